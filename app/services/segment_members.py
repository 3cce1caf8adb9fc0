"""A segment's current members: a page at a time with why each is there, or all of them as CSV.

The CSV is produced row by row from a server-side cursor (``yield_per``), so exporting 100,000
members holds one batch in memory, not the segment. Both check the store's scope and that the
segment exists before anything is returned.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select

from app.services import serialise
from app.services.auth import Principal
from app.services.customers import customer_summary
from app.services.segments import get_segment
from app.storage.db import Database
from app.storage.models import Customer, Membership, Profile

CSV_BATCH_ROWS = 1000
CSV_COLUMNS = ("platform_customer_id", "email", "orders_count", "net_spent", "last_order_at",
               "rfm_group", "lifecycle_stage", "entered_at", "explanation")


def _members(store_id: int, key: str) -> Select:
    """Open memberships of ``key`` with their customer and profile, in customer order."""
    return (select(Customer, Profile, Membership)
            .join(Membership, Membership.customer_id == Customer.id)
            .outerjoin(Profile, Profile.customer_id == Customer.id)
            .where(Membership.store_id == store_id, Membership.segment_key == key,
                   Membership.left_at.is_(None), Customer.deleted_at.is_(None))
            .order_by(Customer.id))


def _member(customer: Customer, profile: Profile | None, membership: Membership) -> dict:
    return {**customer_summary(customer, profile),
            "lifecycle_stage": profile.lifecycle_stage if profile else None,
            "explanation": membership.explanation,
            "entered_at": serialise.iso(membership.entered_at)}


def segment_members(db: Database, principal: Principal, store_id: int, key: str, page: int = 1,
                    per_page: int = serialise.DEFAULT_PER_PAGE) -> dict[str, Any]:
    """One page of the segment's members, each with the explanation of their membership."""
    segment = get_segment(db, principal, store_id, key)
    with db.session() as session:
        query = _members(store_id, key)
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.execute(query.offset((page - 1) * per_page).limit(per_page)).all()
        return {"segment": segment["key"], "tag": segment["tag"],
                "members": [_member(*row) for row in rows],
                "page": page, "per_page": per_page, "total": total}


def member_csv_rows(db: Database, principal: Principal, store_id: int,
                    key: str) -> Iterator[str]:
    """CSV lines (header first) of every current member; checks scope and key before returning."""
    get_segment(db, principal, store_id, key)  # 404 for a store out of scope or an unknown key
    return _csv_lines(db, store_id, key)


def _csv_lines(db: Database, store_id: int, key: str) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: tuple | list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    with db.session() as session:
        rows = session.execute(_members(store_id, key).execution_options(
            yield_per=CSV_BATCH_ROWS))
        for customer, profile, membership in rows:
            member = _member(customer, profile, membership)
            yield line([_cell(member.get(column)) for column in CSV_COLUMNS])


def _cell(value: Any) -> Any:
    """A spreadsheet-safe cell: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
