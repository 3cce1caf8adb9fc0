"""Dashboard and API users: ``tagwise users add|list|token``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.cli.base import main
from app.storage.db import db


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
    from app.services.errors import ServiceError

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
    from app.services.errors import ServiceError

    try:
        with db().session() as session:
            token = rotate_api_token(session, email)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API token (shown once): {token}")
