"""The ``tagwise`` group and what its command modules share."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command

from app.storage.models import Store


def _create_app() -> Flask:
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Tagwise: customer segments from your store's orders, kept live as tags."""


main.add_command(shell_command)
main.add_command(routes_command)


def store_or_fail(session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise click.ClickException(f"no store {store_id}")
    return store
