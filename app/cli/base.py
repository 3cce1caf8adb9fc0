"""The ``tagwise`` group and what its command modules share."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource
from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command

from app.storage.models import Store

log = logging.getLogger(__name__)


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


def secret_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The callback of an option holding a secret (its ``envvar`` set): ``-`` reads the value
    from standard input (one line per such option, in the order given); a value typed on the
    command line still works for existing scripts but is warned about (``ps``, shell history)."""
    flag = param.opts[0] if isinstance(param, click.Option) else param.name
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise click.BadParameter("standard input gave no value", param_hint=flag)
    elif value and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        log.warning("%s on the command line shows in ps and shell history: set %s or give "
                    "'%s -' and the value on standard input", flag, param.envvar, flag)
    return value


def secret_help(help: str, envvar: str) -> str:
    return f"{help} (or ${envvar}; '-' reads it from standard input)".strip()


def secret_option(flag: str, envvar: str, *, required: bool = False,
                  help: str = "") -> Callable[[Any], Any]:
    """An option holding a secret: from ``envvar``, standard input (``-``) or the flag."""
    return click.option(flag, envvar=envvar, required=required, callback=secret_value,
                        show_envvar=True, help=secret_help(help, envvar))
