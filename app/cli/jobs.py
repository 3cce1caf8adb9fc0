"""One-off work on a store: rescore, backfill, inbox replay (``tagwise sync`` has its own
module)."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import time as day_time
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.base import main, store_or_fail
from app.storage.db import db
from app.storage.models import INBOX_PARKED, INBOX_PENDING, InboxEvent


@main.command("rescore")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Score the store as it stood at the end of this day (UTC)")
@with_appcontext
def rescore_command(store_id: int, as_of: datetime | None) -> None:
    """Re-bin RFM and recompute every profile and segment now."""
    from tasks.rescore import StoreBusy, run_rescore

    end = datetime.combine(as_of.date(), day_time.max, UTC) if as_of else None
    try:
        counts = run_rescore(store_id, end)
    except (LookupError, StoreBusy) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rescored {counts['customers']} customers; {counts['changed']} changed segments;"
               f" {counts['profiles_changed']} profiles rewritten")


@main.command("backfill")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only what changed since this day (UTC); default: the whole history")
@with_appcontext
def backfill_command(store_id: int, since: datetime | None) -> None:
    """Import a store's customers and orders through the ingest path, then rescore."""
    from connectors.base import ConnectorError
    from tasks.reconcile import import_changes
    from tasks.rescore import run_rescore

    start = since.replace(tzinfo=UTC) if since else None
    with db().session() as session:
        platform = store_or_fail(session, store_id).platform
    if platform == "shopify":
        _backfill_shopify(store_id, start)
        return
    with click.progressbar(length=0, label="importing", show_pos=True) as bar:
        try:
            counts = import_changes(store_id, start, bar.update)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        except ConnectorError as exc:
            raise click.ClickException(f"the store's API failed: {exc}") from exc
    click.echo(f"read {counts['seen']}, new {counts['new']}, rejected {counts['rejected']}")
    result = run_rescore(store_id)
    click.echo(f"rescored {result['customers']} customers")


def _backfill_shopify(store_id: int, since: datetime | None) -> None:
    """Run (or resume) the bulk-operation import with a progress bar per resource."""
    from connectors.base import ConnectorError, TransientError
    from tasks.backfill import BackfillFailed, run_backfill

    shown: dict[str, Any] = {}

    def show(phase: str, done: int, total: int | None) -> None:
        if shown.get("phase") != phase:
            if "bar" in shown:
                shown["bar"].__exit__(None, None, None)
            bar = click.progressbar(length=total or 0, label=f"importing {phase}",
                                    show_pos=True)
            shown.update(phase=phase, bar=bar.__enter__())
        bar = shown["bar"]
        bar.update(done - bar.pos)

    try:
        job = run_backfill(store_id, since, show)
    except BackfillFailed as exc:
        raise click.ClickException(f"backfill failed: {exc}") from exc
    except TransientError as exc:
        raise click.ClickException(f"interrupted ({exc}); run the same command again to "
                                   "resume where it stopped") from exc
    except ConnectorError as exc:
        raise click.ClickException(f"the store's API failed: {exc}") from exc
    finally:
        if "bar" in shown:
            shown["bar"].__exit__(None, None, None)
    click.echo(f"backfill {job['status']}: {job['customers']} customers, {job['orders']} "
               f"orders, {job['rejected']} rejected"
               + (f" ({job['error']})" if job["error"] else ""))


@main.group("inbox")
def inbox_group() -> None:
    """Webhook deliveries as received."""


@inbox_group.command("replay")
@click.option("--store", "store_id", type=int, default=None, help="Only this store's events")
@click.option("--id", "event_ids", type=int, multiple=True, help="Only these events")
@with_appcontext
def inbox_replay(store_id: int | None, event_ids: tuple[int, ...]) -> None:
    """Process parked events again, now, and say how each ended."""
    from tasks.ingest import ingest_event

    with db().session() as session:
        query = select(InboxEvent).where(InboxEvent.status == INBOX_PARKED)
        if store_id is not None:
            query = query.where(InboxEvent.store_id == store_id)
        if event_ids:
            query = query.where(InboxEvent.id.in_(event_ids))
        events = list(session.execute(query.order_by(InboxEvent.id)).scalars())
        purged = [e.id for e in events if e.body is None]
        events = [e for e in events if e.body is not None]
        for event in events:
            event.status, event.attempts, event.error = INBOX_PENDING, 0, None
    for event_id in purged:
        click.echo(f"event {event_id}: body purged after INBOX_RETENTION_DAYS, cannot replay")
    if not events:
        click.echo("no parked events")
        return
    for event in events:
        try:
            status = ingest_event.apply(args=[event.id]).get(disable_sync_subtasks=False)
        except Exception as exc:  # reported per event; the event itself records the error
            status = f"failed: {type(exc).__name__}"
        click.echo(f"event {event.id} ({event.topic}): {status}")
