"""Custom segment commands: ``tagwise segments add|preview``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.base import main
from app.storage.db import db


@main.group("segments")
def segments_group() -> None:
    """Built-in and rule segments."""


@segments_group.command("add")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--key", required=True, help="Tag suffix, e.g. vip-regulars → tw:vip-regulars")
@click.option("--name", default=None)
@click.option("--rule", "rule_text", required=True,
              help="e.g. \"days_since_last_order <= 30 and orders_count >= 3\"")
@with_appcontext
def segments_add(store_id: int, key: str, name: str | None, rule_text: str) -> None:
    """Add a rule segment (checked before it is saved) and apply it to every customer."""
    from app.services.auth import OPERATOR
    from app.services.errors import NotFound, ServiceError
    from app.services.segments import create_segment

    try:
        create_segment(db(), OPERATOR, store_id, key=key, rule=rule_text, name=name)
    except ServiceError as exc:
        # A missing store is not the rule's fault: say only that.
        prefix = "" if isinstance(exc, NotFound) else "segment refused: "
        raise click.ClickException(f"{prefix}{exc.message}") from exc
    click.echo(f"segment {key} added; every customer of store {store_id} is being re-evaluated")


@segments_group.command("preview")
@click.option("--store", "store_id", type=int, required=True)
@click.option("--rule", "rule_text", required=True)
@with_appcontext
def segments_preview(store_id: int, rule_text: str) -> None:
    """Count the customers a rule would select now, with a sample and why they match."""
    from app.services.auth import OPERATOR
    from app.services.errors import NotFound, ServiceError
    from app.services.segments import preview_rule

    try:
        result = preview_rule(db(), OPERATOR, store_id, rule_text)
    except ServiceError as exc:
        # A missing store is not the rule's fault: say only that.
        prefix = "" if isinstance(exc, NotFound) else "rule rejected: "
        raise click.ClickException(f"{prefix}{exc.message}") from exc
    click.echo(f"{result['count']} of {result['total']} customers ({result['share']:.1%})")
    for member in result["sample"]:
        click.echo(f"  {member['platform_customer_id'] or 'guest'}: {member['explanation']}")
