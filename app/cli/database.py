"""Database schema commands: ``tagwise db upgrade``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.base import main

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

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
    from redis.exceptions import RedisError

    from app.storage.redis_state import drop_legacy_profile_hashes

    command.upgrade(alembic_config(), "heads")
    click.echo("database is up to date")
    try:
        dropped = drop_legacy_profile_hashes(current_app.extensions["redis"])
    except (RedisError, OSError) as exc:
        click.echo(f"Redis did not answer ({type(exc).__name__}): the daily upkeep deletes the"
                   " profile hashes earlier versions kept there")
        return
    if dropped:
        click.echo(f"deleted {dropped} profile hashes earlier versions kept in Redis")
