"""The ``tagwise`` group and what its command modules share."""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Callable
from typing import Any

import click
import redis
from click.core import ParameterSource
from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from app.config import ConfigError
from app.storage import embedded_redis
from app.storage.models import Store

FLASK_GENERIC_OPTIONS = {"app", "env_file", "debug"}
LONG_RUNNING_COMMANDS = {"run", "shell"}  # they own the embedded Redis while they run
log = logging.getLogger(__name__)


def _create_app() -> Flask:
    from app import create_app

    return create_app()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _missing_table(exc: BaseException) -> bool:
    text = _first_line(exc)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


class TagwiseGroup(FlaskGroup):
    """Flask's CLI group with Flask's own options hidden, one-line errors for configuration and
    connection failures, and no embedded Redis left behind by a one-off command."""

    def __init__(self, **extra) -> None:
        super().__init__(add_version_option=False, **extra)
        self.params = [self._hidden(p) if p.name in FLASK_GENERIC_OPTIONS else p
                       for p in self.params]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands registered here; unlike Flask, ``--help`` builds no app (and so starts
        no embedded Redis) to look for more on ``app.cli``, which only mirrors these."""
        return click.Group.list_commands(self, ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A registered command, without building the app for an unknown name."""
        return click.Group.get_command(self, ctx, name)

    @staticmethod
    def _hidden(param: click.Parameter) -> click.Parameter:
        hidden = copy.copy(param)  # Flask's option objects are shared module globals
        hidden.hidden = True
        return hidden

    def invoke(self, ctx: click.Context):
        """Run the command; turn configuration and connection failures into one line."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from exc
        except ArgumentError as exc:
            raise click.ClickException(f"DATABASE_URL is not usable: {_first_line(exc)}") from exc
        except (OperationalError, ProgrammingError) as exc:
            if _missing_table(exc):
                raise click.ClickException("the database has no Tagwise tables yet: run "
                                           "`tagwise db upgrade`") from exc
            raise click.ClickException(
                f"cannot use the database: {_first_line(exc)} (check DATABASE_URL)") from exc
        except redis.ConnectionError as exc:
            raise click.ClickException(
                f"cannot reach Redis: {_first_line(exc)} (check REDIS_URL)") from exc
        finally:
            if ctx.invoked_subcommand not in LONG_RUNNING_COMMANDS:
                embedded_redis.shutdown_started_here()


@click.group(cls=TagwiseGroup, create_app=_create_app, add_default_commands=False)
@click.version_option(package_name="tagwise", prog_name="Tagwise",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Tagwise: customer segments from your store's orders, kept live as tags."""


main.add_command(shell_command)
main.add_command(routes_command)
shell_command.hidden = routes_command.hidden = True  # Flask's developer commands


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
