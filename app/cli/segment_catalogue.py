"""``tagwise segments list|enable|disable|export``: the catalogue and a store's segments."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.segments import segments_group
from app.core.segments.reference import DISAGREEMENTS, FAMILY_NOTES, by_family
from app.services.auth import OPERATOR
from app.services.errors import ServiceError
from app.services.segment_members import member_csv_rows
from app.services.segments import list_segments, update_segment
from app.storage.db import db

STORE = click.option("--store", "store_id", type=int, required=True)


def _print_reference() -> None:
    for family, title, entries in by_family():
        click.echo(f"{title}\n  {FAMILY_NOTES[family]}")
        for entry in entries:
            click.echo(f"  tw:{entry.key:<20} {entry.description}")
        click.echo()
    click.echo("Where families disagree, and why")
    for note in DISAGREEMENTS:
        click.echo(f"  - {note}")


@segments_group.command("list")
@click.option("--store", "store_id", type=int, default=None,
              help="That store's segments with their state and size; without it, the reference")
@with_appcontext
def segments_list(store_id: int | None) -> None:
    """What every built-in tag means, or one store's segments with their sizes."""
    if store_id is None:
        _print_reference()
        return
    try:
        segments = list_segments(db(), OPERATOR, store_id)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    for s in segments:
        state = "on " if s["enabled"] else "off"
        click.echo(f"{state} {s['tag']:<26} {s['members']:>7}  {s['rule'] or s['description']}")


def _switch(store_id: int, key: str, enabled: bool) -> None:
    try:
        update_segment(db(), OPERATOR, store_id, key, {"enabled": enabled})
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"segment {key} {'enabled' if enabled else 'disabled'} for store {store_id}; "
               f"members {'gain' if enabled else 'lose'} the tag at the next sync")


@segments_group.command("enable")
@STORE
@click.argument("key")
@with_appcontext
def segments_enable(store_id: int, key: str) -> None:
    """Switch a segment back on (``category-*`` for every category tag)."""
    _switch(store_id, key, True)


@segments_group.command("disable")
@STORE
@click.argument("key")
@with_appcontext
def segments_disable(store_id: int, key: str) -> None:
    """Switch a segment off: its tag is removed from every member at the next sync."""
    _switch(store_id, key, False)


@segments_group.command("export")
@STORE
@click.argument("key")
@click.option("--output", "-o", type=click.File("wb"), default="-",
              help="A file to write (default: standard output)")
@with_appcontext
def segments_export(store_id: int, key: str, output) -> None:
    """Write a segment's current members as CSV (streamed, any size)."""
    try:
        rows = member_csv_rows(db(), OPERATOR, store_id, key)
        for line in rows:
            output.write(line.encode())  # bytes: the CSV's own CRLF line ends stay as they are
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    if output.name != "<stdout>":
        click.echo(f"wrote {output.name}", err=True)

