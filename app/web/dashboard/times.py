"""Times as the merchant reads them: in the store's timezone, labelled with its abbreviation."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape


def store_zone(timezone: str | None) -> ZoneInfo:
    """The store's zone; UTC for a missing or unknown name (a page never fails on it)."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def store_time(value: datetime | str | None, timezone: str | None, fmt: str = "%Y-%m-%d %H:%M",
               empty: str = "–") -> Markup:
    """``<time>`` of a UTC moment (datetime or ISO text) in the store's zone, e.g. 18:05 CET."""
    if not value:
        return Markup(escape(empty))
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = store_zone(timezone)
    local = moment.astimezone(zone)
    return Markup('<time datetime="{}" title="{}">{} <abbr class="tz">{}</abbr></time>').format(
        moment.astimezone(UTC).isoformat(), zone.key, local.strftime(fmt), local.tzname())
