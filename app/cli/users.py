"""Dashboard and API users: ``tagwise users add|list|token|delete|password|scope``."""

from __future__ import annotations

import sys
from typing import Any

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
    password = _read_password(password_stdin)
    try:
        with db().session() as session:
            user, token = create_user(session, email, password, store_ids=store_ids,
                                      all_stores=all_stores)
            scope = "all stores" if all_stores else "stores " + ", ".join(map(str, store_ids))
            click.echo(f"user {user.email} added ({scope})")
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API token (shown once): {token}")


def _read_password(from_stdin: bool) -> str:
    """A new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _change_user(change, email: str, *args: Any, **kwargs: Any) -> None:
    """Apply one ``app.services.auth`` change to a user; a bad value is a one-line error."""
    from app.services.errors import ServiceError

    try:
        with db().session() as session:
            change(session, email, *args, **kwargs)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc


@users_group.command("delete")
@click.argument("email")
@with_appcontext
def users_delete(email: str) -> None:
    """Remove a user: their sessions and API token stop working at once."""
    from app.services.auth import delete_user

    _change_user(delete_user, email)
    click.echo(f"user {email} deleted")


@users_group.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@with_appcontext
def users_password(email: str, password_stdin: bool) -> None:
    """Change a user's password; their open sessions end."""
    from app.services.auth import set_password

    _change_user(set_password, email, _read_password(password_stdin))
    click.echo(f"password of {email} changed; their sessions were ended")


@users_group.command("scope")
@click.argument("email")
@click.option("--store", "store_ids", type=int, multiple=True,
              help="A store this user may see (repeat for several)")
@click.option("--all-stores", is_flag=True, help="An agency admin: every store")
@with_appcontext
def users_scope(email: str, store_ids: tuple[int, ...], all_stores: bool) -> None:
    """Change the stores a user may see; their open sessions end."""
    from app.services.auth import set_scope

    if bool(store_ids) == all_stores:
        raise click.UsageError("give --store ID (one or more) or --all-stores")
    _change_user(set_scope, email, store_ids, all_stores=all_stores)
    click.echo(f"scope of {email} changed; their sessions were ended")


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
