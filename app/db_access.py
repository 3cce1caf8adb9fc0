"""The current app's database, for views and commands."""

from flask import current_app

from app.db import Database


def db() -> Database:
    """The Database of the running app."""
    return current_app.extensions["db"]
