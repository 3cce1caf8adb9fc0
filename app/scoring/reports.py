"""Store and read the dashboard's precomputed reports (written by rescore, read by pages).

The pure aggregates live in ``app.core.profiles.reports``; this module only moves them to and from
SQL: one ``store_reports`` row per (store, kind), and one ``segment_size_history`` row per
(store, day, segment) for the overview's trend. The RFM movement compares each customer's RFM
group at the previous rescore (the group membership open at that moment: memberships keep their
history) with the group this rescore gives. Live sizes between rescores are a COUNT of open
memberships (``segment_admin.list_segments``), served by ``ix_memberships_store_open_key``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.profiles import reports
from app.core.profiles.rfm import RFM_GROUPS
from app.storage.db import Database
from app.storage.models import Membership, SegmentSizeHistory, Store, StoreReport

TREND_DAYS = 30


def save_reports(db: Database, session: Session, store: Store, profiles: pd.DataFrame,
                 activity: pd.DataFrame, sizes: dict[str, int], as_of: pd.Timestamp,
                 now: datetime, previous_rescore: datetime | None) -> None:
    """Compute every report of a freshly rescored store and replace the stored ones.

    ``activity`` is the store's orders or their ``reports.monthly_activity``; ``sizes`` the
    segment sizes (``reports.segment_sizes``); ``previous_rescore`` when the store was last
    rescored (None: this is its first rescore, so there is no movement to report yet).
    """
    movement: dict[str, Any] = {"since": None, "until": now.isoformat()}
    if previous_rescore is not None:
        movement |= reports.rfm_movement(rfm_groups_at(session, store.id, previous_rescore),
                                         profiles["rfm_group"])
        movement["since"] = previous_rescore.isoformat()
    data = {
        "rfm_grid": reports.rfm_grid(profiles),
        "cohort_retention": reports.cohort_retention(activity, as_of, store.timezone),
        "segment_sizes": sizes,
        "rfm_movement": movement,
    }
    for kind, value in data.items():
        insert = db.insert(StoreReport).values(store_id=store.id, kind=kind, computed_at=now,
                                               data=value)
        session.execute(insert.on_conflict_do_update(
            index_elements=["store_id", "kind"],
            set_={"computed_at": insert.excluded.computed_at, "data": insert.excluded.data}))
    day = as_of.tz_convert(store.timezone).date()
    session.execute(delete(SegmentSizeHistory).filter_by(store_id=store.id, day=day))
    if sizes:
        session.execute(SegmentSizeHistory.__table__.insert(), [
            {"store_id": store.id, "day": day, "segment_key": key, "size": size}
            for key, size in sizes.items()])


def rfm_groups_at(session: Session, store_id: int, moment: datetime) -> pd.Series:
    """Each customer's RFM group membership open at ``moment`` (customer id → group key)."""
    rows = session.execute(
        select(Membership.customer_id, Membership.segment_key)
        .where(Membership.store_id == store_id, Membership.segment_key.in_(RFM_GROUPS),
               Membership.entered_at <= moment,
               (Membership.left_at.is_(None)) | (Membership.left_at > moment))).all()
    return pd.Series({customer_id: key for customer_id, key in rows}, dtype=object)


def load_report(session: Session, store_id: int, kind: str) -> StoreReport | None:
    """The stored report of one kind, or None before the store's first rescore."""
    return session.get(StoreReport, (store_id, kind))


def segment_trend(session: Session, store_id: int, until: date,
                  days: int = TREND_DAYS) -> dict[str, Any]:
    """Daily sizes of each segment over the last ``days`` days: {"days": [...], "series": {}}."""
    rows = session.execute(
        select(SegmentSizeHistory.day, SegmentSizeHistory.segment_key, SegmentSizeHistory.size)
        .where(SegmentSizeHistory.store_id == store_id,
               SegmentSizeHistory.day > until - timedelta(days=days))
        .order_by(SegmentSizeHistory.day)).all()
    days_seen = sorted({row.day for row in rows})
    series: dict[str, list[int | None]] = {}
    index = {day: i for i, day in enumerate(days_seen)}
    for row in rows:
        series.setdefault(row.segment_key, [None] * len(days_seen))[index[row.day]] = row.size
    return {"days": [d.isoformat() for d in days_seen], "series": series}
