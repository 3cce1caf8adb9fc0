"""``tagwise sync``: push pending tag changes now, and operate sync runs (list them, replay
failed customers, confirm or reject a sync the safety brake held)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.base import main, store_or_fail
from app.services.errors import ServiceError
from app.storage.db import db
from app.storage.models import Destination

MAX_LISTED_FAILURES = 200


@main.group("sync", invoke_without_command=True)
@click.option("--store", "store_id", type=int, default=None, help="Sync this store now")
@click.option("--dry-run", is_flag=True, help="Show the diff; send nothing")
@click.option("--full", is_flag=True, help="Re-send every customer's tags")
@click.pass_context
def sync_group(context: click.Context, store_id: int | None, dry_run: bool, full: bool) -> None:
    """Push every pending tag change of a store now; or inspect and operate sync runs."""
    if context.invoked_subcommand is not None:
        return
    if store_id is None:
        raise click.UsageError("Missing option '--store' (or name a subcommand)")
    context.invoke(sync_command, store_id=store_id, dry_run=dry_run, full=full)


@with_appcontext
def sync_command(store_id: int, dry_run: bool, full: bool) -> None:
    """Push every pending tag change of a store now."""
    from app.sync.diff import pending_changes, sync_customers

    with db().session() as session:
        store = store_or_fail(session, store_id)
        for destination in session.execute(
                select(Destination).filter_by(store_id=store_id)).scalars():
            if dry_run:
                changes = pending_changes(session, store, destination, None, full=full)
                click.echo(f"{destination.kind}: {len(changes)} customers would change")
                for change in changes[:50]:
                    click.echo(f"  customer {change.platform_customer_id or change.customer_id}: "
                               f"+{sorted(change.add)} -{sorted(change.remove)}")
                continue
            report = sync_customers(session, store, destination, None, full=full)
            click.echo(f"{destination.kind}: sent {report.sent}, ok {report.ok}, "
                       f"retry later {len(report.transient)}, failed {report.permanent}"
                       + (" (dry run: recorded, not sent)" if report.dry_run else "")
                       + (f" (held for confirmation: run {report.run_id}, see "
                          f"`tagwise sync runs --store {store_id}`)" if report.held else ""))


def _run_line(run: dict[str, Any]) -> str:
    started = (run["started_at"] or "")[:19].replace("T", " ")
    line = (f"run {run['id']} {started} {run['trigger']:<12} {run['status']:<9} "
            f"changed {run['changed']}, ok {run['succeeded']}, failed {run['failed']}, "
            f"requests {run['requests']}, throttle waits {run['throttle_waits']}")
    return line + (f" ({run['error']})" if run["error"] else "")


@sync_group.command("runs")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--destination", "destination_id", type=int, default=None,
              help="Only this destination")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Runs per destination, newest first")
@click.option("--run", "run_id", type=int, default=None,
              help="Show one run with its failures and hold summary")
@with_appcontext
def sync_runs(store_id: int, destination_id: int | None, limit: int,
              run_id: int | None) -> None:
    """List a store's sync runs per destination (or one run in detail)."""
    from app.services import destinations as destination_view
    from app.services.auth import OPERATOR

    with db().session() as session:
        store_or_fail(session, store_id)
        query = select(Destination).filter_by(store_id=store_id).order_by(Destination.id)
        if destination_id is not None:
            query = query.filter_by(id=destination_id)
        destinations = [(d.id, d.kind) for d in session.execute(query).scalars()]
    if destination_id is not None and not destinations:
        raise click.ClickException(f"no destination {destination_id} in store {store_id}")
    try:
        for dest_id, kind in destinations:
            if run_id is not None:
                run = destination_view.show_run(db(), OPERATOR, store_id, dest_id, run_id,
                                                per_page=MAX_LISTED_FAILURES)
                _echo_run_detail(run)
                return
            page = destination_view.list_runs(db(), OPERATOR, store_id, dest_id,
                                              per_page=limit)
            click.echo(f"{kind} (destination {dest_id}): {page['total']} runs, "
                       f"{page['unretried_failures']} customers awaiting a replay")
            for run in page["runs"]:
                click.echo("  " + _run_line(run))
    except ServiceError as exc:
        if run_id is None or destination_id is not None:
            raise click.ClickException(exc.message) from exc
        raise click.ClickException(f"no sync run {run_id} in store {store_id} (name its "
                                   "--destination)") from exc


def _echo_run_detail(run: dict[str, Any]) -> None:
    click.echo(_run_line(run))
    if run["hold"]:
        hold = run["hold"]
        click.echo(f"  held: {hold['changing']} of {hold['audience']} customers would change "
                   f"({hold['share']:.0%} > {hold['threshold']:.0%})")
        for verb, tags in (("add", hold["adds"]), ("remove", hold["removes"])):
            for tag, n in tags.items():
                click.echo(f"    {verb} {tag}: {n}")
    for failure in run["failures"]:
        who = failure["platform_customer_id"] or f"#{failure['customer_id']}"
        click.echo(f"  customer {who}: {failure['outcome']} {failure['reason']}"
                   + (f" ({failure['message']})" if failure["message"] else "")
                   + (f", replayed in run {failure['retried_in_run_id']}"
                      if failure["retried_in_run_id"] else ""))


@sync_group.command("retry-failed")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--destination", "destination_id", type=int, required=True)
@click.option("--since", type=click.DateTime(), default=None,
              help="Only failures of runs started since (UTC)")
@with_appcontext
def sync_retry_failed(store_id: int, destination_id: int, since: datetime | None) -> None:
    """Replay the destination's failed customers now, re-diffed against what they should carry."""
    from app.sync.diff import retry_failed

    with db().session() as session:
        store = store_or_fail(session, store_id)
        destination = session.get(Destination, destination_id)
        if destination is None or destination.store_id != store_id:
            raise click.ClickException(f"no destination {destination_id} in store {store_id}")
        report = retry_failed(session, store, destination,
                              since.replace(tzinfo=UTC) if since else None)
    click.echo(f"replay run {report.run_id}: {report.considered} customers re-diffed, "
               f"sent {report.sent}, ok {report.ok}, retry later {len(report.transient)}, "
               f"failed {report.permanent}")


def _decide(store_id: int, destination_id: int, run_id: int, confirm: bool) -> None:
    from app.services import destinations as destination_view
    from app.services.auth import OPERATOR
    from app.sync.diff import sync_customers

    try:
        run = destination_view.decide_hold(db(), OPERATOR, store_id, destination_id, run_id,
                                           confirm, queue=False)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"run {run_id}: {run['status']}")
    if not confirm:
        click.echo("the destination is back in dry run; review its diff before going live")
        return
    with db().session() as session:  # the pass the confirmation lets through, run here
        store = store_or_fail(session, store_id)
        report = sync_customers(session, store, session.get(Destination, destination_id), None,
                                trigger="confirmed", brake=False)
    click.echo(f"applied: sent {report.sent}, ok {report.ok}, failed "
               f"{report.permanent + len(report.transient)}")


@sync_group.command("confirm")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--destination", "destination_id", type=int, required=True)
@click.option("--run", "run_id", type=int, required=True)
@with_appcontext
def sync_confirm(store_id: int, destination_id: int, run_id: int) -> None:
    """Let a held sync through and apply it now."""
    _decide(store_id, destination_id, run_id, confirm=True)


@sync_group.command("reject")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--destination", "destination_id", type=int, required=True)
@click.option("--run", "run_id", type=int, required=True)
@with_appcontext
def sync_reject(store_id: int, destination_id: int, run_id: int) -> None:
    """Refuse a held sync: the destination goes back to dry run."""
    _decide(store_id, destination_id, run_id, confirm=False)
