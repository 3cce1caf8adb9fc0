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

    command.upgrade(alembic_config(), "heads")
    click.echo("database is up to date")
