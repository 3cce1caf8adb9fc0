"""Destination commands: ``tagwise destinations add KIND``, one per kind in the registry."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.base import main, secret_help, secret_value, store_or_fail
from app.storage.db import db
from app.storage.models import Destination
from app.sync.diff import SILENT_FIRST_PASS_KINDS, record_as_known
from connectors.base import DestinationKind, DestinationOption, InvalidSetting
from connectors.registry import DESTINATIONS


@main.group("destinations")
def destinations_group() -> None:
    """Email platforms and webhooks that receive segments."""


@destinations_group.command("list")
@click.option("--store", "store_id", type=int, default=None, help="Only this store's")
@with_appcontext
def destinations_list(store_id: int | None) -> None:
    """Every destination: id, store, kind, mode, state, last sync and last error."""
    with db().session() as session:
        query = select(Destination).order_by(Destination.store_id, Destination.id)
        if store_id is not None:
            store_or_fail(session, store_id)
            query = query.where(Destination.store_id == store_id)
        for d in session.execute(query).scalars():
            synced = d.last_synced_at.strftime("%Y-%m-%d %H:%M UTC") if d.last_synced_at \
                else "never synced"
            click.echo(f"{d.id}\tstore {d.store_id}\t{d.kind}\t{d.mode}\t{d.state}\t{synced}"
                       + (f"\t{d.last_error.splitlines()[0]}" if d.last_error else ""))


@destinations_group.group("add")
def destinations_add() -> None:
    """Add a destination to a store (dry_run until you say --mode live)."""


def _add_destination(kind: DestinationKind, store_id: int, mode: str,
                     settings: dict[str, Any]) -> None:
    """Check the settings, store the destination (secret encrypted), print its id."""
    credential = settings.pop(kind.credential.name) if kind.credential else None
    generated = credential is None and kind.generate_credential is not None
    if generated:
        credential = kind.generate_credential()
    try:
        kind.check(settings, credential,
                   allow_private_urls=current_app.config["TAGWISE_ALLOW_PRIVATE_URLS"])
    except InvalidSetting as exc:
        raise click.BadParameter(str(exc), param_hint=_flag(exc.option)) from exc
    box = current_app.extensions["secret_box"]
    with db().session() as session:
        store = store_or_fail(session, store_id)
        if session.execute(select(Destination).filter_by(store_id=store_id,
                                                         kind=kind.kind)).scalar():
            raise click.ClickException(f"store {store_id} already has a {kind.kind} destination")
        destination = Destination(store_id=store_id, kind=kind.kind, mode=mode, config=settings,
                                  credentials_enc=box.encrypt(credential) if credential else None)
        session.add(destination)
        session.flush()
        destination_id = destination.id
        known = (record_as_known(session, store, destination)
                 if kind.kind in SILENT_FIRST_PASS_KINDS else None)
    click.echo(destination_id)
    if known is not None:
        click.echo(f"{known} customers' current segments recorded as known: only changes from "
                   "now on are sent")
    if generated:
        click.echo(f"{kind.credential.name.replace('_', ' ')}: {credential}")
    if mode == "dry_run":
        click.echo(f"dry run: diffs are recorded, nothing is sent; review with "
                   f"`tagwise sync --store {store_id} --dry-run`")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _click_option(option: DestinationOption) -> click.Option:
    return click.Option([_flag(option.name), option.name], help=option.help,
                        required=option.required, is_flag=option.flag,
                        default=False if option.flag else None)


def _secret_click_option(kind: DestinationKind, option: DestinationOption) -> click.Option:
    """The kind's credential: also from $TAGWISE_<KIND>_<NAME> or standard input (``-``)."""
    envvar = f"TAGWISE_{kind.kind}_{option.name}".upper()
    return click.Option([_flag(option.name), option.name], envvar=envvar, show_envvar=True,
                        help=secret_help(option.help, envvar), required=option.required,
                        callback=secret_value)


def _destination_command(kind: DestinationKind) -> click.Command:
    """``tagwise destinations add KIND``, its options read from the kind in the registry."""
    credential = [_secret_click_option(kind, kind.credential)] if kind.credential else []

    @with_appcontext
    def add(store_id: int, mode: str, **settings: Any) -> None:
        _add_destination(kind, store_id, mode, settings)

    return click.Command(kind.kind, callback=add, help=kind.summary, params=[
        click.Option(["--store", "store_id"], type=int, required=True),
        *credential, *(_click_option(option) for option in kind.options),
        click.Option(["--mode"], type=click.Choice(["dry_run", "live"]), default="dry_run",
                     show_default=True)])


for _kind in DESTINATIONS.values():
    if not _kind.added_with_store:
        destinations_add.add_command(_destination_command(_kind))
