"""Destination commands: ``tagwise destinations add klaviyo|mailchimp|shopify-metafields|
shopify-flow``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import insert, select

from app.cli.base import main, store_or_fail
from app.storage.db import db
from app.storage.models import Destination, Store, SyncState


@main.group("destinations")
def destinations_group() -> None:
    """Email platforms that receive segments."""


@destinations_group.group("add")
def destinations_add() -> None:
    """Add Klaviyo or Mailchimp to a store (dry_run until you say --mode live)."""


def _add_destination(store_id: int, kind: str, api_key: str | None, mode: str,
                     config: dict[str, object]) -> None:
    box = current_app.extensions["secret_box"]
    with db().session() as session:
        store_or_fail(session, store_id)
        if session.execute(select(Destination).filter_by(store_id=store_id, kind=kind)).scalar():
            raise click.ClickException(f"store {store_id} already has a {kind} destination")
        destination = Destination(store_id=store_id, kind=kind, mode=mode, config=config,
                                  credentials_enc=box.encrypt(api_key) if api_key else None)
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


@destinations_add.command("shopify-metafields")
@click.option("--store", "store_id", type=int, required=True)
@MODE
@with_appcontext
def destinations_add_shopify_metafields(store_id: int, mode: str) -> None:
    """Write RFM group, lifecycle, churn risk, CLV and next order date as customer metafields.

    Uses the shop's own access token (scope write_customers). The safety brake is off for
    this destination: predictions move for most customers at every nightly rescore.
    """
    _require_shopify(store_id)
    _add_destination(store_id, "shopify_metafields", None, mode, {"brake_share": 1})


@destinations_add.command("shopify-flow")
@click.option("--store", "store_id", type=int, required=True)
@MODE
@with_appcontext
def destinations_add_shopify_flow(store_id: int, mode: str) -> None:
    """Fire the Flow trigger "customer segment changed" when a customer enters or leaves one.

    Flow hears changes from now on: the segments customers are in today are recorded as
    already told, so adding the destination does not start a workflow for every member.
    """
    from app.sync.diff import pending_changes

    _require_shopify(store_id)
    _add_destination(store_id, "shopify_flow", None, mode, {})
    with db().session() as session:
        store = session.get(Store, store_id)
        destination = session.execute(select(Destination).filter_by(
            store_id=store_id, kind="shopify_flow")).scalar_one()
        rows = [{"destination_id": destination.id, "customer_id": change.customer_id,
                 "tags": sorted(change.tags)}
                for change in pending_changes(session, store, destination, None)]
        if rows:
            session.execute(insert(SyncState), rows)
    click.echo(f"{len(rows)} customers' current segments recorded as known to Flow")


def _require_shopify(store_id: int) -> None:
    with db().session() as session:
        if store_or_fail(session, store_id).platform != "shopify":
            raise click.ClickException(f"store {store_id} is not a Shopify store")
