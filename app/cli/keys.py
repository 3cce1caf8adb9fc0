"""Secrets at rest: ``tagwise keys rotate``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.base import main
from app.storage.db import db


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
