"""The ``tagwise`` command: one Flask CLI group for operators and developers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlalchemy import select

from app.storage.db import db
from app.storage.models import INBOX_PARKED, INBOX_PENDING, Destination, InboxEvent, Store
from app.web.errors import ServiceError

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SHUTDOWN_GRACE_SECONDS = 20
MAX_LISTED_FAILURES = 200


def _create_app() -> Flask:
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Tagwise: customer segments from your store's orders, kept live as tags."""


main.add_command(shell_command)
main.add_command(routes_command)


def _store(session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise click.ClickException(f"no store {store_id}")
    return store


# --------------------------------------------------------------------------- db


@main.group("db")
def db_group() -> None:
    """Database schema."""


def alembic_config():
    """Alembic configuration pointing at this checkout's migrations and the app's database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"])
    return config


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration up to the newest."""
    from alembic import command

    command.upgrade(alembic_config(), "heads")
    click.echo("database is up to date")


# --------------------------------------------------------------------------- stores


@main.group("stores")
def stores_group() -> None:
    """Client stores."""


@stores_group.group("add")
def stores_add() -> None:
    """Add a Shopify or WooCommerce store."""


@stores_add.command("shopify")
@click.option("--domain", required=True, help="SHOP.myshopify.com")
@click.option("--access-token", required=True, help="Admin API access token")
@click.option("--webhook-secret", default=None,
              help="The custom app's secret; defaults to SHOPIFY_API_SECRET")
@click.option("--api-base-url", default=None, help="Replaces https://SHOP for Admin API calls")
@click.option("--tag-prefix", default=None, help="Prefix of every tag Tagwise owns (tw:)")
@click.option("--currency", default="USD", show_default=True)
@click.option("--timezone", "tz", default="UTC", show_default=True)
@click.option("--dry-run", is_flag=True, help="Record tag diffs without writing them")
@with_appcontext
def stores_add_shopify(domain: str, access_token: str, webhook_secret: str | None,
               api_base_url: str | None, tag_prefix: str | None, currency: str, tz: str,
               dry_run: bool) -> None:
    """Add a store and its tag destination; print the new store's id."""
    import re
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from connectors.shopify.consts import SHOP_DOMAIN_PATTERN

    domain = domain.strip().lower()
    if not re.match(SHOP_DOMAIN_PATTERN, domain):
        raise click.BadParameter("must look like SHOP.myshopify.com", param_hint="--domain")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter("not an IANA timezone", param_hint="--timezone") from exc
    from app.services.stores import add_shopify_store, find_shopify_store

    box = current_app.extensions["secret_box"]
    with db().session() as session:
        if find_shopify_store(session, domain):
            raise click.ClickException(f"{domain} is already a store")
        store = add_shopify_store(
            session, domain, api_base_url=api_base_url, currency=currency, timezone=tz,
            tag_prefix=tag_prefix or current_app.config["DEFAULT_TAG_PREFIX"], dry_run=dry_run)
        store.access_token_enc = box.encrypt(access_token)
        store.webhook_secret_enc = box.encrypt(webhook_secret) if webhook_secret else None
        store_id = store.id
    click.echo(store_id)


@stores_add.command("woocommerce")
@click.option("--url", "site_url", required=True, help="https://SITE/")
@click.option("--consumer-key", required=True)
@click.option("--consumer-secret", required=True)
@click.option("--webhook-secret", default=None,
              help="Secret of webhooks you create yourself; generated when Tagwise creates them")
@click.option("--api-base-url", default=None, help="Replaces the site URL for REST API calls")
@click.option("--tag-prefix", default=None)
@click.option("--currency", default="USD", show_default=True)
@click.option("--timezone", "tz", default="UTC", show_default=True)
@click.option("--no-create-webhooks", is_flag=True,
              help="Do not create the webhooks through the REST API")
@with_appcontext
def stores_add_woocommerce(site_url: str, consumer_key: str, consumer_secret: str,
                           webhook_secret: str | None, api_base_url: str | None,
                           tag_prefix: str | None, currency: str, tz: str,
                           no_create_webhooks: bool) -> None:
    """Add a WooCommerce store; create its webhooks; print its id and delivery URL."""
    import json
    import secrets

    from connectors.base import ConnectorError
    from connectors.woocommerce.client import WooCommerceClient
    from connectors.woocommerce.consts import TOPICS_USED

    if not site_url.startswith(("https://", "http://")):
        raise click.BadParameter("must be the site's URL, https://SITE/", param_hint="--url")
    site_url = site_url.rstrip("/") + "/"
    secret = webhook_secret or secrets.token_urlsafe(32)
    box = current_app.extensions["secret_box"]
    with db().session() as session:
        if session.execute(select(Store).filter_by(platform="woocommerce",
                                                   domain=site_url)).scalar():
            raise click.ClickException(f"{site_url} is already a store")
        credentials = json.dumps({"consumer_key": consumer_key,
                                  "consumer_secret": consumer_secret})
        store = Store(platform="woocommerce", domain=site_url, api_base_url=api_base_url,
                      access_token_enc=box.encrypt(credentials),
                      webhook_secret_enc=box.encrypt(secret),
                      tag_prefix=tag_prefix or current_app.config["DEFAULT_TAG_PREFIX"],
                      currency=currency.upper(), timezone=tz)
        session.add(store)
        session.flush()
        session.add(Destination(store_id=store.id, kind="woocommerce_meta"))
        app_url = current_app.config["APP_URL"].rstrip("/")
        delivery_url = f"{app_url}/webhooks/woocommerce/{store.id}"
        if not no_create_webhooks:
            client = WooCommerceClient(api_base_url or site_url, consumer_key, consumer_secret)
            try:
                for topic in TOPICS_USED:
                    client.create_webhook(topic, delivery_url, secret)
            except ConnectorError as exc:  # the transaction rolls back: no half-added store
                raise click.ClickException(f"could not create webhooks: {exc}") from exc
        store_id = store.id
    click.echo(store_id)
    click.echo(f"delivery URL: {delivery_url}")


# --------------------------------------------------------------------------- destinations


@main.group("destinations")
def destinations_group() -> None:
    """Email platforms that receive segments."""


@destinations_group.group("add")
def destinations_add() -> None:
    """Add Klaviyo or Mailchimp to a store (dry_run until you say --mode live)."""


def _add_destination(store_id: int, kind: str, api_key: str, mode: str,
                     config: dict[str, object]) -> None:
    box = current_app.extensions["secret_box"]
    with db().session() as session:
        _store(session, store_id)
        if session.execute(select(Destination).filter_by(store_id=store_id, kind=kind)).scalar():
            raise click.ClickException(f"store {store_id} already has a {kind} destination")
        destination = Destination(store_id=store_id, kind=kind, mode=mode, config=config,
                                  credentials_enc=box.encrypt(api_key))
        session.add(destination)
        session.flush()
        destination_id = destination.id
    click.echo(destination_id)
    if mode == "dry_run":
        click.echo(f"dry run: diffs are recorded, nothing is sent; review with "
                   f"`tagwise sync --store {store_id} --dry-run`")


MODE = click.option("--mode", type=click.Choice(["dry_run", "live"]), default="dry_run",
                    show_default=True)
INCLUDE_ALL = click.option("--include-all", is_flag=True,
                           help="Also send customers without marketing consent (list-building)")


@destinations_add.command("klaviyo")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--api-key", required=True, help="Private API key, pk_...")
@click.option("--list-per-segment", is_flag=True, help="Also keep a static list per segment")
@click.option("--api-base-url", default=None, help="Replaces https://a.klaviyo.com")
@MODE
@INCLUDE_ALL
@with_appcontext
def destinations_add_klaviyo(store_id: int, api_key: str, list_per_segment: bool,
                             api_base_url: str | None, mode: str, include_all: bool) -> None:
    """Send segments to Klaviyo as profile properties (and optionally lists)."""
    if not api_key.startswith("pk_"):
        raise click.BadParameter("a Klaviyo private key starts with pk_", param_hint="--api-key")
    _add_destination(store_id, "klaviyo", api_key, mode,
                     {"list_per_segment": list_per_segment, "api_base_url": api_base_url,
                      "include_all": include_all})


@destinations_add.command("mailchimp")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--api-key", required=True, help="KEY-us6 (the suffix names the data centre)")
@click.option("--list-id", required=True, help="The audience id")
@click.option("--api-base-url", default=None, help="Replaces https://DC.api.mailchimp.com/3.0")
@MODE
@INCLUDE_ALL
@with_appcontext
def destinations_add_mailchimp(store_id: int, api_key: str, list_id: str,
                               api_base_url: str | None, mode: str, include_all: bool) -> None:
    """Send segments to a Mailchimp audience as tags."""
    if "-" not in api_key:
        raise click.BadParameter("a Mailchimp key ends in -DC, e.g. -us6", param_hint="--api-key")
    _add_destination(store_id, "mailchimp", api_key, mode,
                     {"list_id": list_id, "api_base_url": api_base_url,
                      "include_all": include_all})


# --------------------------------------------------------------------------- segments


@main.group("segments")
def segments_group() -> None:
    """Built-in and rule segments."""


@segments_group.command("add")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--key", required=True, help="Tag suffix, e.g. vip-regulars → tw:vip-regulars")
@click.option("--name", default=None)
@click.option("--rule", "rule_text", required=True,
              help="e.g. \"days_since_last_order <= 30 and orders_count >= 3\"")
@with_appcontext
def segments_add(store_id: int, key: str, name: str | None, rule_text: str) -> None:
    """Add a rule segment (checked before it is saved) and apply it to every customer."""
    from app.services.auth import OPERATOR
    from app.services.segments import create_segment
    from app.web.errors import ServiceError

    try:
        create_segment(db(), OPERATOR, store_id, key=key, rule=rule_text, name=name)
    except ServiceError as exc:
        raise click.ClickException(f"segment refused: {exc.message}") from exc
    click.echo(f"segment {key} added; every customer of store {store_id} is being re-evaluated")


@segments_group.command("preview")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--rule", "rule_text", required=True)
@with_appcontext
def segments_preview(store_id: int, rule_text: str) -> None:
    """Count the customers a rule would select now, with a sample and why they match."""
    from app.services.auth import OPERATOR
    from app.services.segments import preview_rule
    from app.web.errors import ServiceError

    try:
        result = preview_rule(db(), OPERATOR, store_id, rule_text)
    except ServiceError as exc:
        raise click.ClickException(f"rule rejected: {exc.message}") from exc
    click.echo(f"{result['count']} of {result['total']} customers ({result['share']:.1%})")
    for member in result["sample"]:
        click.echo(f"  {member['platform_customer_id'] or 'guest'}: {member['explanation']}")


# --------------------------------------------------------------------------- users


@main.group("users")
def users_group() -> None:
    """People who sign in to the dashboard and the API."""


@users_group.command("add")
@click.argument("email")
@click.option("--store", "store_ids", type=int, multiple=True,
              help="A store this user may see (repeat for several)")
@click.option("--all-stores", is_flag=True, help="An agency admin: every store")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@with_appcontext
def users_add(email: str, store_ids: tuple[int, ...], all_stores: bool,
              password_stdin: bool) -> None:
    """Add a user; print their API token (shown only this once)."""
    from app.services.auth import create_user
    from app.web.errors import ServiceError

    if bool(store_ids) == all_stores:
        raise click.UsageError("give --store ID (one or more) or --all-stores")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with db().session() as session:
            user, token = create_user(session, email, password, store_ids=store_ids,
                                      all_stores=all_stores)
            scope = "all stores" if all_stores else "stores " + ", ".join(map(str, store_ids))
            click.echo(f"user {user.email} added ({scope})")
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API token (shown once): {token}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """Every user and the stores they may see."""
    from app.services.auth import list_users

    with db().session() as session:
        for user, store_ids in list_users(session):
            scope = "all stores" if user.all_stores else ",".join(map(str, store_ids)) or "none"
            click.echo(f"{user.email}\t{scope}")


@users_group.command("token")
@click.argument("email")
@with_appcontext
def users_token(email: str) -> None:
    """Replace a user's API token (the old one stops working); print the new one once."""
    from app.services.auth import rotate_api_token
    from app.web.errors import ServiceError

    try:
        with db().session() as session:
            token = rotate_api_token(session, email)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API token (shown once): {token}")


# --------------------------------------------------------------------------- work


@main.command("rescore")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Score the store as it stood at the end of this day (UTC)")
@with_appcontext
def rescore_command(store_id: int, as_of: datetime | None) -> None:
    """Re-bin RFM and recompute every profile and segment now."""
    from tasks.rescore import run_rescore

    end = datetime.combine(as_of.date(), day_time.max, UTC) if as_of else None
    try:
        counts = run_rescore(store_id, end)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rescored {counts['customers']} customers; {counts['changed']} changed segments")


@main.command("backfill")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only what changed since this day (UTC); default: the whole history")
@with_appcontext
def backfill_command(store_id: int, since: datetime | None) -> None:
    """Import a store's customers and orders through the ingest path, then rescore."""
    from connectors.base import ConnectorError
    from tasks.reconcile import import_resources
    from tasks.rescore import run_rescore

    start = since.replace(tzinfo=UTC) if since else None
    with db().session() as session:
        platform = _store(session, store_id).platform
    if platform == "shopify":
        _backfill_shopify(store_id, start)
        return
    with click.progressbar(length=0, label="importing", show_pos=True) as bar:
        try:
            counts = import_resources(store_id, start, bar.update)
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
        store = _store(session, store_id)
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
        _store(session, store_id)
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
        store = _store(session, store_id)
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
    from tasks.sync import sync_store_destination

    try:
        run = destination_view.decide_hold(db(), OPERATOR, store_id, destination_id, run_id,
                                           confirm, queue=False)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"run {run_id}: {run['status']}")
    if confirm:
        sent = sync_store_destination.apply(args=[destination_id],
                                            kwargs={"trigger": "confirmed"}).get()
        click.echo(f"applied: sent {sent}")
    else:
        click.echo("the destination is back in dry run; review its diff before going live")


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


# --------------------------------------------------------------------------- keys


@main.group("keys")
def keys_group() -> None:
    """Encryption keys of secrets at rest (TAGWISE_ENCRYPTION_KEY)."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every stored token and secret with the first (newest) key.

    Put the new key first in TAGWISE_ENCRYPTION_KEY, keep the old ones after it, run this,
    then the old keys can be removed.
    """
    from app.services.key_rotation import RotationError, rotate_all

    try:
        with db().session() as session:
            count = rotate_all(session, current_app.extensions["secret_box"])
    except RotationError as exc:
        raise click.ClickException(f"nothing rotated: {exc}") from exc
    click.echo(f"re-encrypted {count} secrets with the newest key; older keys can now be "
               f"removed from TAGWISE_ENCRYPTION_KEY")


# --------------------------------------------------------------------------- run


WEB_THREADS = 4  # as the Procfile's default WEB_THREADS


@main.command("run")
@click.option("--port", type=int, default=None, help="Defaults to PORT, then 8000")
@click.option("--workers", type=int, default=2, show_default=True, help="Web workers")
@with_appcontext
def run_command(port: int | None, workers: int) -> None:
    """Serve the web app, a Celery worker and beat; stop them all on Ctrl-C or SIGTERM."""
    port = port or current_app.config["PORT"]
    env = dict(os.environ, REDIS_URL=current_app.config["REDIS_URL"],
               DATABASE_URL=current_app.config["DATABASE_URL"])
    bin_dir = Path(sys.executable).parent
    commands = {
        # No control socket: its default path in $HOME would collide between instances.
        # Threads overlap a request's waits on the database commit and the broker.
        "web": [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                str(workers), "--threads", str(WEB_THREADS), "--access-logfile", "-",
                "--no-control-socket", "app.wsgi:app"],
        "worker": [str(bin_dir / "celery"), "-A", "tasks.worker", "worker", "--loglevel",
                   "INFO", "-Q", "realtime,sync,bulk", "--concurrency", "2"],
        "beat": [str(bin_dir / "celery"), "-A", "tasks.worker", "beat", "--loglevel", "INFO",
                 "--schedule", str(Path(current_app.instance_path) / "celerybeat-schedule")],
    }
    processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    click.echo(f"Tagwise is running on http://127.0.0.1:{port} (Ctrl-C stops it)")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(p.poll() is None for p in processes.values()):
        time.sleep(0.5)
    for name, process in processes.items():
        if process.poll() is None:
            process.terminate()
        elif not stopping:
            click.echo(f"{name} exited with {process.returncode}; stopping the rest", err=True)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    if not os.environ.get("REDIS_URL"):
        from app.storage import embedded_redis

        embedded_redis.shutdown(Path(current_app.instance_path))
    click.echo("Tagwise stopped")


def register_commands(app: Flask) -> None:
    """Expose the commands on ``app.cli`` too (``flask --app app`` and test runners)."""
    for name, command in main.commands.items():
        app.cli.add_command(command, name)
