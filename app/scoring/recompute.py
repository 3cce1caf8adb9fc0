"""Recompute profiles and memberships from SQL: the bridge between the tables and the pure core.

``refresh_customers`` serves a webhook (a handful of customers) and ``tagwise rescore`` (the
whole store) alike; both read orders as frames, run the same pure functions and write back in
bulk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from app.core.assemble import (
    Scoring,
    StoreInputs,
    fit_scoring,
    memberships,
    metrics_as_of,
    predict,
    score_profiles,
)
from app.core.predict import FittedModel, prior_model
from app.core.profiles.metrics import empty_orders
from app.core.segments.rules import Rule, compile_rule
from app.scoring.reports import save_reports
from app.storage.db import Database, chunked
from app.storage.models import (
    Customer,
    LineItem,
    Membership,
    Order,
    Profile,
    Refund,
    Segment,
    Store,
)

log = logging.getLogger(__name__)

PROFILE_COLUMNS = [c.name for c in Profile.__table__.columns
                   if c.name not in {"customer_id", "store_id", "segment_keys", "explanations",
                                     "computed_at"}]


@dataclass
class RefreshResult:
    """What a refresh changed: customers whose segment set moved, and their new profiles."""

    changed: list[int] = field(default_factory=list)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """A frame from SQL result rows, built column by column (pandas is slow on Row objects)."""
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def load_inputs(session: Session, store: Store, customer_ids: list[int] | None,
                as_of: datetime | None = None) -> StoreInputs:
    """Read the customers' orders, lines and contact facts into frames."""
    customer_query = select(Customer.id, Customer.email, Customer.accepts_marketing).where(
        Customer.store_id == store.id, Customer.deleted_at.is_(None))
    if customer_ids is None:
        customer_rows = session.execute(customer_query).all()
    else:
        customer_rows = [row for chunk in chunked(sorted(customer_ids))
                         for row in session.execute(customer_query.where(Customer.id.in_(chunk)))]
    ids = np.array([row.id for row in customer_rows], dtype="int64")
    customers = pd.DataFrame(
        {"has_email": [bool(row.email) for row in customer_rows],
         "accepts_marketing": [row.accepts_marketing for row in customer_rows]},
        index=pd.Index(ids, name="customer_id"),
    )
    refunds = (select(Refund.order_platform_id, func.sum(Refund.amount).label("refunded"))
               .where(Refund.store_id == store.id).group_by(Refund.order_platform_id).subquery())
    order_query = (
        select(Order.id, Order.customer_id, Order.created_at, Order.total, Order.discount_total,
               Order.discount_codes, Order.cancelled_at, Order.items_count, refunds.c.refunded)
        .outerjoin(refunds, refunds.c.order_platform_id == Order.platform_id)
        .where(Order.store_id == store.id, Order.customer_id.is_not(None))
    )
    if as_of is not None:
        order_query = order_query.where(Order.created_at <= as_of)
    rows = []
    for chunk in chunked(ids.tolist()) if customer_ids is not None else [None]:
        query = order_query if chunk is None else order_query.where(Order.customer_id.in_(chunk))
        rows.extend(session.execute(query).all())
    orders = _orders_frame(rows)
    store_orders = None
    if customer_ids is None:  # the whole store: one join instead of thousands of id chunks
        store_orders = select(Order.id).where(Order.store_id == store.id,
                                              Order.customer_id.is_not(None))
        if as_of is not None:
            store_orders = store_orders.where(Order.created_at <= as_of)
    return StoreInputs(ids, orders, _lines_frame(session, orders, store_orders), customers,
                       store.timezone)


def _orders_frame(rows: list[Any]) -> pd.DataFrame:
    if not rows:
        frame = empty_orders()
        frame["order_id"] = pd.Series(dtype="int64")
        return frame
    order_id, customer_id, created, total, discount, codes, cancelled, items, refunded = zip(
        *rows, strict=True)
    total_f = np.array([float(t) for t in total])
    refunded_f = np.array([float(r or 0) for r in refunded])
    is_cancelled = np.array([c is not None for c in cancelled])
    return pd.DataFrame({
        "order_id": np.array(order_id, dtype="int64"),
        "customer_id": np.array(customer_id, dtype="int64"),
        "created_at": pd.to_datetime(list(created), utc=True),
        "total": total_f,
        "net": np.where(is_cancelled, 0.0, np.maximum(total_f - refunded_f, 0.0)),
        "cancelled": is_cancelled,
        "has_discount": np.array([float(d) > 0 or bool(c) for d, c in zip(discount, codes,
                                                                           strict=True)]),
        "items": np.array(items, dtype="int64"),
    })


def _lines_frame(session: Session, orders: pd.DataFrame, store_orders: Select | None
                 ) -> pd.DataFrame:
    """Lines of the frame's live orders, by id chunks, or joined to ``store_orders`` if given."""
    live = orders.loc[~orders["cancelled"], ["order_id", "customer_id"]]
    query = select(LineItem.order_id, LineItem.product_type, LineItem.vendor, LineItem.quantity)
    if store_orders is not None:
        live_ids = store_orders.where(Order.cancelled_at.is_(None)).subquery()
        rows = session.execute(query.join(live_ids, live_ids.c.id == LineItem.order_id)).all()
    else:
        rows = []
        for chunk in chunked(live["order_id"].tolist()):
            rows.extend(session.execute(query.where(LineItem.order_id.in_(chunk))).all())
    lines = _frame(rows, ["order_id", "product_type", "vendor", "quantity"])
    owner = live.set_index("order_id")["customer_id"]
    lines["customer_id"] = lines["order_id"].map(owner)
    return lines


def disabled_builtins(session: Session, store: Store) -> tuple[str, ...]:
    """Keys of the built-in segments this store switched off."""
    return tuple(session.execute(select(Segment.key).filter_by(
        store_id=store.id, kind="builtin", enabled=False)).scalars())


def rule_segments(session: Session, store: Store) -> tuple[tuple[str, Rule], ...]:
    """The store's enabled rule segments, compiled (their text was checked when saved)."""
    rows = session.execute(select(Segment.key, Segment.rule_text).filter_by(
        store_id=store.id, kind="rule", enabled=True).order_by(Segment.key)).all()
    return tuple((key, compile_rule(text)) for key, text in rows)


def refresh_customers(db: Database, session: Session, store: Store, customer_ids: list[int],
                      now: datetime) -> RefreshResult:
    """Recompute the given customers against the store's stored scoring (a webhook's path)."""
    as_of = pd.Timestamp(now)
    inputs = load_inputs(session, store, customer_ids)
    profiles = metrics_as_of(inputs, as_of)
    scoring = Scoring.from_dict(store.scoring)
    stored = store.prediction_model or {}
    # Never fit on the customers at hand: their predictions would depend on who else happened
    # to be in the batch. Until the first rescore fits the store, the prior scores everyone.
    model = FittedModel.from_dict(stored["model"]) if stored.get("model") else prior_model()
    cutoffs = stored.get("value_cutoffs")
    predictions, _ = predict(inputs.orders, as_of, store.timezone, model,
                             tuple(cutoffs) if cutoffs else None)
    profiles = score_profiles(profiles, scoring, as_of, predictions)
    result = write_profiles(db, session, store, profiles, scoring, now)
    gone = set(customer_ids) - set(int(i) for i in inputs.customer_ids)
    result.changed.extend(close_memberships(session, sorted(gone), now))
    return result


def refresh_store(db: Database, session: Session, store: Store, now: datetime) -> RefreshResult:
    """Recompute every live customer against the stored scoring: segment edits take effect
    without re-binning RFM or refitting the model (lighter than a rescore)."""
    ids = list(session.execute(select(Customer.id).where(
        Customer.store_id == store.id, Customer.deleted_at.is_(None))).scalars())
    return refresh_customers(db, session, store, ids, now)


def rescore_store(db: Database, session: Session, store: Store, now: datetime,
                  as_of: datetime | None = None) -> RefreshResult:
    """Re-bin the store, recompute every profile and membership (a rescore's path)."""
    as_of_ts = pd.Timestamp(as_of or now)
    inputs = load_inputs(session, store, None, as_of)
    profiles = metrics_as_of(inputs, as_of_ts)
    scoring = fit_scoring(profiles)
    previous = (store.prediction_model or {}).get("model")  # warm start for the fit
    predictions, model = predict(inputs.orders, as_of_ts, store.timezone,
                                 previous=FittedModel.from_dict(previous) if previous else None)
    profiles = score_profiles(profiles, scoring, as_of_ts, predictions)
    store.scoring = scoring.to_dict()
    cutoffs = predictions.attrs["value_cutoffs"]
    store.prediction_model = {"model": model.to_dict(), "fitted_at": now.isoformat(),
                              "as_of": as_of_ts.isoformat(),
                              "value_cutoffs": list(cutoffs) if cutoffs else None}
    store.rescored_at = now
    result = write_profiles(db, session, store, profiles, scoring, now)
    save_reports(db, session, store, profiles, inputs.orders,
                 [p["segment_keys"] for p in result.profiles.values()], as_of_ts, now)
    return result


def write_profiles(db: Database, session: Session, store: Store, profiles: pd.DataFrame,
                   scoring: Scoring, now: datetime) -> RefreshResult:
    """Upsert profile rows and move memberships; report who changed."""
    members = memberships(profiles, scoring, disabled_builtins(session, store),
                          rule_segments(session, store))
    records = _profile_records(profiles, members, store.id, now)
    if records:
        insert = db.insert(Profile)
        columns = {c: insert.excluded[c] for c in records[0] if c != "customer_id"}
        session.execute(insert.on_conflict_do_update(index_elements=["customer_id"],
                                                     set_=columns), records)
    result = RefreshResult(profiles={r["customer_id"]: r for r in records})
    result.changed = _move_memberships(session, store.id, members, now)
    return result


def _profile_records(profiles: pd.DataFrame, members: dict[int, dict[str, str]], store_id: int,
                     now: datetime) -> list[dict[str, Any]]:
    frame = profiles[PROFILE_COLUMNS].astype(object)
    frame = frame.where(frame.notna(), None)
    records = []
    for customer_id, values in zip(frame.index, frame.to_dict("records"), strict=True):
        for key, value in values.items():
            if isinstance(value, pd.Timestamp):
                values[key] = value.to_pydatetime()
            elif isinstance(value, np.generic):
                values[key] = value.item()
        segs = members.get(int(customer_id), {})
        values.update(customer_id=int(customer_id), store_id=store_id, computed_at=now,
                      segment_keys=sorted(segs), explanations=segs)
        records.append(values)
    return records


def _move_memberships(session: Session, store_id: int, members: dict[int, dict[str, str]],
                      now: datetime) -> list[int]:
    """Close the memberships customers lost, open the ones they gained; return who moved."""
    open_rows: dict[int, dict[str, Any]] = {}  # plain rows: no ORM objects for a whole store
    for chunk in chunked(sorted(members)):
        for row in session.execute(select(
                Membership.id, Membership.customer_id, Membership.segment_key,
                Membership.explanation).where(
                Membership.customer_id.in_(chunk), Membership.left_at.is_(None))):
            open_rows.setdefault(row.customer_id, {})[row.segment_key] = row
    changed, closing, opening, explained = [], [], [], []
    for customer_id, wanted in members.items():
        current = open_rows.get(customer_id, {})
        lost = current.keys() - wanted.keys()
        gained = wanted.keys() - current.keys()
        explained.extend({"id": current[key].id, "explanation": wanted[key]}
                         for key in wanted.keys() & current.keys()
                         if current[key].explanation != wanted[key])
        if lost or gained:
            changed.append(customer_id)
            closing.extend(current[key].id for key in lost)
            opening.extend({"store_id": store_id, "customer_id": customer_id, "segment_key": key,
                            "entered_at": now, "explanation": wanted[key]} for key in gained)
    for chunk in chunked(closing):
        session.execute(update(Membership).where(Membership.id.in_(chunk)).values(left_at=now))
    if explained:
        session.execute(update(Membership), explained)  # bulk UPDATE by primary key
    if opening:
        session.execute(Membership.__table__.insert(), opening)
    return changed


def close_memberships(session: Session, customer_ids: list[int], now: datetime) -> list[int]:
    """Every open membership of these (deleted) customers ends now; return who had any."""
    moved = []
    for chunk in chunked(customer_ids):
        had = session.execute(select(Membership.customer_id).where(and_(
            Membership.customer_id.in_(chunk), Membership.left_at.is_(None))).distinct()).scalars()
        moved.extend(had)
        session.execute(update(Membership).where(
            Membership.customer_id.in_(chunk), Membership.left_at.is_(None)).values(left_at=now))
        session.execute(update(Profile).where(Profile.customer_id.in_(chunk))
                        .values(segment_keys=[], explanations={}))
    return moved


def stored_profiles(session: Session, store: Store, now: datetime) -> pd.DataFrame:
    """The store's stored profiles as a frame, with the day counts as of ``now`` (for previews)."""
    from app.core.assemble import days_between

    columns = [Profile.customer_id, *(getattr(Profile, c) for c in PROFILE_COLUMNS),
               Customer.email, Customer.accepts_marketing]
    rows = session.execute(select(*columns).join(Customer, Customer.id == Profile.customer_id)
                           .where(Profile.store_id == store.id, Customer.deleted_at.is_(None))
                           .order_by(Profile.customer_id)).all()
    frame = _frame(rows, ["customer_id", *PROFILE_COLUMNS, "email",
                          "accepts_marketing"]).set_index("customer_id")
    # The same contact facts a refresh gives the rules (metrics_as_of), without the address.
    frame["has_email"] = pd.Series([bool(e) for e in frame.pop("email")], index=frame.index,
                                   dtype=bool)
    for column in ("first_order_at", "last_order_at", "expected_next_order_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    as_of = pd.Timestamp(now)
    frame["days_since_first_order"] = days_between(frame["first_order_at"], as_of)
    frame["days_since_last_order"] = days_between(frame["last_order_at"], as_of)
    return frame
