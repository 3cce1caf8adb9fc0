"""The ``tagwise`` command: one Flask CLI group for operators and developers.

One module per command group; each registers its commands on :data:`app.cli.base.main`.
"""

from flask import Flask

from app.cli import (  # noqa: F401  (register the commands)
    database,
    destinations,
    jobs,
    keys,
    run,
    segment_catalogue,
    segments,
    stores,
    sync,
    users,
)
from app.cli.base import main

__all__ = ["main", "register_commands"]


def register_commands(app: Flask) -> None:
    """Expose the commands on ``app.cli`` too (``flask --app app`` and test runners)."""
    for name, command in main.commands.items():
        app.cli.add_command(command, name)
