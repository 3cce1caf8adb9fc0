"""Recompute profiles and memberships from SQL: the bridge between the tables and the pure core.

``refresh_customers`` serves a webhook (a handful of customers) and reads their inputs from
their facts rows (``facts_inputs``: one primary-key read, app.scoring.facts); ``rescore_store``
and ``refresh_store`` serve a whole store and read its history with ``load_inputs``
(aggregated in the database); ``check_facts`` rewrites any facts row that drifted from that
history (nightly, on its own). All run the same pure functions. A whole store is written only
where it changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Float, Integer, and_, select, update
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
from app.core.profiles.metrics import LINE_COLUMNS, empty_orders
from app.core.profiles.reports import add_segment_sizes, monthly_activity, segment_sizes
from app.core.segments.rules import Rule, compile_rule
from app.scoring.facts import has_discount_sql, repair_facts
from app.scoring.reports import save_reports
from app.storage.bulk import (
    epoch_us,
    id_between,
    is_postgres,
    json_column_names,
    one_of,
    read_frame,
    timestamps,
    update_by_id,
    utc_column_names,
    write_rows,
)
from app.storage.db import MONEY_SCALE, Database, UTCDateTime, chunked
from app.storage.models import Customer, CustomerFacts, Membership, Profile, Segment, Store

log = logging.getLogger(__name__)

STORE_BLOCK_CUSTOMERS = 25_000  # customers a whole-store pass reads, scores and writes at once
SAME_TO = 1e-6  # relative difference below which a stored number is left as it is

PROFILE_COLUMNS = [c.name for c in Profile.__table__.columns
                   if c.name not in {"customer_id", "store_id", "segment_keys", "explanations",
                                     "computed_at"}]


@dataclass
class RefreshResult:
    """What a refresh changed: customers whose segment set moved and, for a whole store, the
    customers, the rows written per table and the segment sizes."""

    changed: list[int] = field(default_factory=list)
    customers: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    segment_sizes: dict[str, int] = field(default_factory=dict)


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """A frame from SQL result rows, built column by column (pandas is slow on Row objects)."""
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def load_inputs(session: Session, store: Store, as_of: datetime | None = None, *,
                id_range: tuple[int, int] | None = None,
                lines: pd.DataFrame | None = None) -> StoreInputs:
    """The per-customer inputs of the pure core from the stored history: the whole store, or
    the store's customers with ids in ``id_range`` (inclusive; a whole-store pass block by
    block, which passes their ``lines`` already read by ``store_lines``).

    The database does the aggregation: line items arrive summed per (customer, product type,
    vendor) by a ``GROUP BY`` next to the data, refunds summed per order. Orders cross once
    each (gaps, calendar days and dayparts in the store's timezone need every order), as plain
    numbers: ``COPY`` on PostgreSQL, a plain cursor on SQLite (``app.storage.bulk.read_frame``).
    """
    cutoff = None if as_of is None else int(pd.Timestamp(as_of).value // 1000)
    selects = None if id_range is None else partial(id_between, low=id_range[0],
                                                    high=id_range[1])
    customer_frame = read_frame(session, _customers_sql(session, store, selects),
                                ["customer_id", "has_email", "accepts_marketing"])
    orders = read_frame(session, _orders_sql(session, store, selects, cutoff),
                        ["customer_id", "created_at", "total", "refunded", "cancelled",
                         "has_discount", "items"])
    if lines is None:
        lines = read_frame(session, _lines_sql(session, store, selects, cutoff), LINE_COLUMNS)
    ids = customer_frame["customer_id"].to_numpy(dtype="int64")
    marketing = [None if pd.isna(v) else bool(v) for v in customer_frame["accepts_marketing"]]
    contact = pd.DataFrame({"has_email": customer_frame["has_email"].to_numpy(dtype=bool),
                            "accepts_marketing": marketing},
                           index=pd.Index(ids, name="customer_id"))
    return StoreInputs(ids, _orders_frame(orders), _lines_frame(lines), contact, store.timezone)


def facts_inputs(session: Session, store: Store, customer_ids: list[int]) -> StoreInputs:
    """The inputs of the pure core for these live customers from their facts rows: the same
    frames ``load_inputs`` gives, without reading their order history."""
    ids, has_email, marketing, orders, lines = [], [], [], [], []
    for chunk in chunked(sorted(set(customer_ids))):
        for row in session.execute(
                select(Customer.id, Customer.email, Customer.accepts_marketing,
                       CustomerFacts.orders, CustomerFacts.product_types, CustomerFacts.vendors)
                .outerjoin(CustomerFacts, CustomerFacts.customer_id == Customer.id)
                .where(Customer.store_id == store.id, one_of(session, Customer.id, chunk),
                       Customer.deleted_at.is_(None)).order_by(Customer.id)):
            ids.append(row.id)
            has_email.append(bool(row.email))
            marketing.append(row.accepts_marketing)
            orders.extend([row.id, *entry] for entry in (row.orders or {}).values())
            lines.extend((row.id, name, None, units)
                         for name, (units, _) in (row.product_types or {}).items())
            lines.extend((row.id, None, name, units)
                         for name, (units, _) in (row.vendors or {}).items())
    contact = pd.DataFrame({"has_email": np.array(has_email, dtype=bool),
                            "accepts_marketing": marketing},
                           index=pd.Index(np.array(ids, dtype="int64"), name="customer_id"))
    raw_orders = pd.DataFrame(orders, columns=["customer_id", "created_at", "total", "refunded",
                                               "cancelled", "has_discount", "items"])
    return StoreInputs(contact.index.to_numpy(), _orders_frame(raw_orders),
                       _lines_frame(pd.DataFrame(lines, columns=LINE_COLUMNS)), contact,
                       store.timezone)


Selection = Callable[[str], str] | None  # SQL condition on a customer id column, or everyone


def _scope(session: Session, store: Store, column: str, selects: Selection,
           cutoff: int | None = None, alias: str = "o") -> str:
    """The WHERE conditions every inputs query shares (store, customers, orders up to as_of)."""
    conditions = [f"{alias}.store_id = {int(store.id)}"]
    if selects is not None:
        conditions.append(selects(column))
    if cutoff is not None:
        conditions.append(f"{epoch_us(session, alias + '.created_at')} <= {int(cutoff)}")
    return " AND ".join(conditions)


def _customers_sql(session: Session, store: Store, selects: Selection) -> str:
    return ("SELECT c.id, CASE WHEN c.email IS NOT NULL AND c.email <> '' THEN 1 ELSE 0 END,"
            " CASE WHEN c.accepts_marketing IS NULL THEN NULL"
            " WHEN c.accepts_marketing THEN 1 ELSE 0 END"
            f" FROM customers c WHERE {_scope(session, store, 'c.id', selects, alias='c')}"
            " AND c.deleted_at IS NULL ORDER BY c.id")


def _orders_sql(session: Session, store: Store, selects: Selection, cutoff: int | None) -> str:
    return (f"SELECT o.customer_id, {epoch_us(session, 'o.created_at')}, o.total,"
            " COALESCE(r.refunded, 0),"
            " CASE WHEN o.cancelled_at IS NULL THEN 0 ELSE 1 END,"
            f" {has_discount_sql(session)}, o.items_count"
            " FROM orders o LEFT JOIN (SELECT order_platform_id, SUM(amount) AS refunded"
            f" FROM refunds WHERE store_id = {int(store.id)} GROUP BY order_platform_id) r"
            " ON r.order_platform_id = o.platform_id"
            f" WHERE {_scope(session, store, 'o.customer_id', selects, cutoff)}"
            " AND o.customer_id IS NOT NULL")


def _lines_sql(session: Session, store: Store, selects: Selection, cutoff: int | None) -> str:
    return ("SELECT o.customer_id, l.product_type, l.vendor, SUM(l.quantity)"
            " FROM line_items l JOIN orders o ON o.id = l.order_id"
            f" WHERE {_scope(session, store, 'o.customer_id', selects, cutoff)}"
            " AND o.customer_id IS NOT NULL AND o.cancelled_at IS NULL"
            " GROUP BY o.customer_id, l.product_type, l.vendor")


def _orders_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The core's orders frame from plain columns (money in ten-thousandths, epoch µs)."""
    if raw.empty:
        return empty_orders()
    # Each amount divides on its own, as Decimal -> float did: net is total less refunds,
    # in floats, zero when cancelled.
    total = raw["total"].to_numpy(dtype="int64") / MONEY_SCALE
    refunded = raw["refunded"].to_numpy(dtype="int64") / MONEY_SCALE
    cancelled = raw["cancelled"].to_numpy(dtype=bool)
    return pd.DataFrame({
        "customer_id": raw["customer_id"].to_numpy(dtype="int64"),
        "created_at": timestamps(raw["created_at"]),
        "total": total,
        "net": np.where(cancelled, 0.0, np.maximum(total - refunded, 0.0)),
        "cancelled": cancelled,
        "has_discount": raw["has_discount"].to_numpy(dtype=bool),
        "items": raw["items"].to_numpy(dtype="int64"),
    })


def store_lines(session: Session, store: Store, as_of: datetime | None) -> pd.DataFrame:
    """The whole store's line quantities per (customer, product type, vendor), read once for a
    block-by-block pass, ordered by customer, names as categories (a few distinct names for
    millions of rows).

    A block's own lines query would have PostgreSQL scan every line item of the store (the
    planner's choice for a block's tens of thousands of orders), once per block: at a million
    customers, forty scans of 19M rows.
    """
    cutoff = None if as_of is None else int(pd.Timestamp(as_of).value // 1000)
    lines = read_frame(session, _lines_sql(session, store, None, cutoff), LINE_COLUMNS)
    lines = lines.astype({"customer_id": "int64", "product_type": "category",
                          "vendor": "category"})
    return lines.sort_values("customer_id", kind="stable", ignore_index=True)


def block_lines(lines: pd.DataFrame, block: tuple[int, int] | None) -> pd.DataFrame:
    """The rows of ``store_lines`` for the customers with ids in ``block`` (inclusive; None:
    all), names back as strings."""
    if block is not None:
        ids = lines["customer_id"].to_numpy()
        lines = lines.iloc[np.searchsorted(ids, block[0], side="left"):
                           np.searchsorted(ids, block[1], side="right")]
    return lines.astype({"product_type": "str", "vendor": "str"})


def _lines_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Quantities per (customer, product type, vendor) of live orders: what the core's
    affinities sum (per type and per vendor), already summed by the database."""
    raw["customer_id"] = raw["customer_id"].astype("int64")
    raw["quantity"] = raw["quantity"].astype("int64")
    return raw


def disabled_builtins(session: Session, store: Store) -> tuple[str, ...]:
    """Keys of the built-in segments this store switched off."""
    return tuple(session.execute(select(Segment.key).filter_by(
        store_id=store.id, kind="builtin", enabled=False)).scalars())


def rule_segments(session: Session, store: Store) -> tuple[tuple[str, Rule], ...]:
    """The store's enabled rule segments, compiled (their text was checked when saved)."""
    rows = session.execute(select(Segment.key, Segment.rule_text).filter_by(
        store_id=store.id, kind="rule", enabled=True).order_by(Segment.key)).all()
    return tuple((key, compile_rule(text)) for key, text in rows)


def refresh_customers(session: Session, store: Store, customer_ids: list[int],
                      now: datetime) -> RefreshResult:
    """Recompute the given customers against the store's stored scoring (a webhook's path)."""
    inputs = facts_inputs(session, store, customer_ids)
    scoring, profiles = _score_with_stored_fit(store, inputs, now)
    result = write_profiles(session, store, profiles, scoring, now)
    gone = set(customer_ids) - set(int(i) for i in inputs.customer_ids)
    result.changed.extend(close_memberships(session, sorted(gone), now))
    return result


def _score_with_stored_fit(store: Store, inputs: StoreInputs, now: datetime
                           ) -> tuple[Scoring, pd.DataFrame]:
    """Profiles of the inputs' customers scored with the store's stored scoring and fit."""
    as_of = pd.Timestamp(now)
    profiles = metrics_as_of(inputs, as_of)
    scoring = Scoring.from_dict(store.scoring)
    stored = store.prediction_model or {}
    # Never fit on the customers at hand: their predictions would depend on who else happened
    # to be in the batch. Until the first rescore fits the store, the prior scores everyone.
    model = FittedModel.from_dict(stored["model"]) if stored.get("model") else prior_model()
    cutoffs = stored.get("value_cutoffs")
    predictions, _ = predict(inputs.orders, as_of, store.timezone, model,
                             tuple(cutoffs) if cutoffs else None)
    return scoring, score_profiles(profiles, scoring, as_of, predictions)


def refresh_store(db: Database, session: Session, store: Store, now: datetime
                  ) -> RefreshResult:
    """Recompute every live customer against the stored scoring: segment edits take effect
    without re-binning RFM or refitting the model (lighter than a rescore)."""
    scoring, profiles = _score_with_stored_fit(store, load_inputs(session, store), now)
    return write_store_profiles(session, store, profiles, scoring, now)


def rescore_store(db: Database, session: Session, store: Store, now: datetime,
                  as_of: datetime | None = None) -> RefreshResult:
    """Re-bin the store, recompute every profile and membership (a rescore's path).

    Orders are read and measured ``STORE_BLOCK_CUSTOMERS`` customers at a time (every input
    is per customer; the line quantities, already summed per customer by the database, are
    read once for the store), so memory follows the customers and orders, not the lines; the
    quintiles run on the per-customer metrics, the model (fit, warm-started from the stored
    one, and its holdout validation) on four columns of every order.
    """
    as_of_ts = pd.Timestamp(as_of or now)
    metrics, orders, activity = [], [], []
    lines = store_lines(session, store, as_of)
    for block in _customer_blocks(session, store):
        inputs = load_inputs(session, store, as_of, id_range=block,
                             lines=block_lines(lines, block))
        metrics.append(metrics_as_of(inputs, as_of_ts))
        # The model (its fit and holdout validation) needs every order, but only these columns.
        orders.append(inputs.orders[["customer_id", "created_at", "cancelled", "net"]])
        activity.append(monthly_activity(inputs.orders, store.timezone))
        del inputs
    del lines
    # Each list is dropped once concatenated: its blocks would otherwise live on beside the whole.
    profiles = pd.concat(metrics)
    del metrics
    scoring = fit_scoring(profiles)
    previous = (store.prediction_model or {}).get("model")  # warm start for the fit
    model_orders = pd.concat(orders)
    del orders
    predictions, model = predict(model_orders, as_of_ts, store.timezone,
                                 previous=FittedModel.from_dict(previous) if previous else None)
    del model_orders
    profiles = score_profiles(profiles, scoring, as_of_ts, predictions)
    store.scoring = scoring.to_dict()
    cutoffs = predictions.attrs["value_cutoffs"]
    store.prediction_model = {"model": model.to_dict(), "fitted_at": now.isoformat(),
                              "as_of": as_of_ts.isoformat(),
                              "value_cutoffs": list(cutoffs) if cutoffs else None}
    previous_rescore, store.rescored_at = store.rescored_at, now
    result = write_store_profiles(session, store, profiles, scoring, now)
    save_reports(db, session, store, profiles, pd.concat(activity), result.segment_sizes,
                 as_of_ts, now, previous_rescore)
    result.rows_written["store_reports"] = 4
    return result


def check_facts(session: Session, store: Store) -> int:
    """Rebuild the store's customer facts from its history, ``STORE_BLOCK_CUSTOMERS`` customers
    at a time, and rewrite the rows that drifted; return how many (nightly upkeep, apart from
    the rescore: every write keeps the facts exact, so this only catches what a rare race
    between two workers left behind)."""
    return repair_facts(session, store, _customer_blocks(session, store))


def _customer_blocks(session: Session, store: Store) -> list[tuple[int, int] | None]:
    """Id ranges of ``STORE_BLOCK_CUSTOMERS`` live customers each ([None]: no customers)."""
    ids = read_frame(session, f"SELECT id FROM customers WHERE store_id = {int(store.id)}"
                     " AND deleted_at IS NULL ORDER BY id", ["id"])["id"].to_numpy(dtype="int64")
    return [(int(ids[i]), int(ids[min(i + STORE_BLOCK_CUSTOMERS, len(ids)) - 1]))
            for i in range(0, len(ids), STORE_BLOCK_CUSTOMERS)] or [None]


def write_store_profiles(session: Session, store: Store, profiles: pd.DataFrame,
                         scoring: Scoring, now: datetime) -> RefreshResult:
    """Write a whole store's recomputed profiles and memberships, only where they changed.

    Block by block of customers: the stored profiles are read back (one ``COPY`` / query) and
    compared column by column; the rows that differ are upserted set-based, and memberships
    move only where a customer's segments or their explanations did. ``computed_at`` is when
    a profile's values last changed.
    """
    disabled, rules = disabled_builtins(session, store), rule_segments(session, store)
    profiles = profiles.sort_index()
    result = RefreshResult(rows_written={"profiles": 0, "memberships": 0})
    for start in range(0, len(profiles), STORE_BLOCK_CUSTOMERS):
        part = profiles.iloc[start:start + STORE_BLOCK_CUSTOMERS]
        members = memberships(part, scoring, disabled, rules)
        table = _profile_table(part, members)
        block = (int(table.index[0]), int(table.index[-1]))
        differs = _differs_from_stored(table, _stored_profile_table(session, store, block))
        changed = table.loc[differs].assign(store_id=store.id, computed_at=pd.Timestamp(now))
        result.rows_written["profiles"] += write_rows(
            session, Profile.__table__, changed.reset_index(), key=["customer_id"],
            mode="upsert")
        moved, written = _move_store_memberships(session, store.id, members, block, now)
        result.changed.extend(moved)
        result.rows_written["memberships"] += written
        result.customers += len(table)
        result.segment_sizes = add_segment_sizes(result.segment_sizes,
                                                 segment_sizes(table["segment_keys"]))
    return result


def _profile_table(profiles: pd.DataFrame, members: dict[int, dict[str, str]]) -> pd.DataFrame:
    """The profile rows to store (index customer_id), segment keys and explanations included."""
    table = profiles[PROFILE_COLUMNS].copy()
    table["product_types"] = [v if isinstance(v, list) else None
                              for v in table["product_types"]]
    wanted = [members.get(int(c), {}) for c in table.index]
    table["segment_keys"] = [sorted(segments) for segments in wanted]
    table["explanations"] = wanted
    return table


def _stored_profile_table(session: Session, store: Store, block: tuple[int, int]
                          ) -> pd.DataFrame:
    """The stored profile rows of the block's customers in ``_profile_table``'s columns (JSON
    as text)."""
    columns = [*PROFILE_COLUMNS, "segment_keys", "explanations"]
    timestamps_ = set(utc_column_names(Profile.__table__))
    json_columns = set(json_column_names(Profile.__table__))
    cast = "CAST({} AS TEXT)" if is_postgres(session) else "{}"
    selected = ", ".join(epoch_us(session, c) if c in timestamps_ else
                         cast.format(c) if c in json_columns else c for c in columns)
    frame = read_frame(session, f"SELECT customer_id, {selected} FROM profiles"
                       f" WHERE store_id = {int(store.id)}"
                       f" AND {id_between('customer_id', *block)}", ["customer_id", *columns])
    return frame.set_index(frame["customer_id"].astype("int64")).drop(columns="customer_id")


def _differs_from_stored(table: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """Per row of ``table``: whether any column differs from the stored row (or none is stored).

    Numbers compare to ``SAME_TO`` relative (a nightly refit, warm-started from the stored
    one, converges to its optimum only that closely: not a change), timestamps to the
    microsecond, JSON by value.
    """
    differs = ~table.index.isin(stored.index)
    stored = stored.reindex(table.index)
    kinds = {c.name: c.type for c in Profile.__table__.columns}
    for column in table.columns:
        new, old = table[column], stored[column]
        kind = kinds[column]
        if isinstance(kind, JSON):
            text = [json.dumps(v) for v in new]
            # SQL NULL and JSON null both read back as None.
            same = np.array([a == b or (json.loads(b) if isinstance(b, str) else None) == value
                             for a, b, value in zip(text, old, new, strict=True)])
        elif isinstance(kind, UTCDateTime):
            same = _same_numbers(_as_epoch_us(new), old.to_numpy(dtype=float))
        elif isinstance(kind, (Integer, Float)):
            same = _same_numbers(new.to_numpy(dtype=float, na_value=np.nan),
                                 old.to_numpy(dtype=float, na_value=np.nan))
        else:
            a, b = new.to_numpy(dtype=object), old.to_numpy(dtype=object)
            missing_a, missing_b = pd.isna(a), pd.isna(b)
            same = (missing_a & missing_b) | (~missing_a & ~missing_b & (a == b))
        differs |= ~same
    return differs


def _as_epoch_us(values: pd.Series) -> np.ndarray:
    since_epoch = pd.to_datetime(values, utc=True) - pd.Timestamp(0, tz="UTC")
    return (since_epoch // pd.Timedelta(1, "us")).to_numpy(dtype=float, na_value=np.nan)


def _same_numbers(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    return np.isclose(new, old, rtol=SAME_TO, atol=0.0, equal_nan=True)


def _move_store_memberships(session: Session, store_id: int, members: dict[int, dict[str, str]],
                            block: tuple[int, int], now: datetime) -> tuple[list[int], int]:
    """Close lost memberships, open gained ones, re-explain kept ones whose reason changed:
    set-based, against one read of the block's open memberships. Returns who moved and the
    rows written."""
    wanted = pd.DataFrame(
        [(c, key, why) for c, segments in members.items() for key, why in segments.items()],
        columns=["customer_id", "segment_key", "explanation"])
    wanted["customer_id"] = wanted["customer_id"].astype("int64")
    current = read_frame(session, "SELECT id, customer_id, segment_key, explanation"
                         f" FROM memberships WHERE store_id = {int(store_id)}"
                         f" AND {id_between('customer_id', *block)} AND left_at IS NULL",
                         ["id", "customer_id", "segment_key", "explanation"])
    current = current.astype({"id": "int64", "customer_id": "int64"})
    current = current.loc[current["customer_id"].isin(list(members))]
    both = wanted.merge(current, on=["customer_id", "segment_key"], how="outer",
                        suffixes=("", "_stored"), indicator=True)
    lost = both.loc[both["_merge"] == "right_only"]
    gained = both.loc[both["_merge"] == "left_only"]
    kept = both.loc[both["_merge"] == "both"]
    reexplained = kept.loc[kept["explanation"].fillna("\0") != kept["explanation_stored"]
                           .fillna("\0"), ["id", "explanation"]]
    for chunk in chunked(lost["id"].astype("int64").tolist()):
        session.execute(update(Membership).where(Membership.id.in_(chunk)).values(left_at=now))
    written = len(lost) + write_rows(
        session, Membership.__table__,
        gained[["customer_id", "segment_key", "explanation"]].assign(
            store_id=store_id, entered_at=pd.Timestamp(now)),
        key=["id"], mode="insert")
    written += write_rows(session, Membership.__table__,
                          reexplained.astype({"id": "int64"}), key=["id"], mode="update")
    moved = sorted(set(lost["customer_id"].astype(int)) | set(gained["customer_id"].astype(int)))
    return moved, written


def write_profiles(session: Session, store: Store, profiles: pd.DataFrame, scoring: Scoring,
                   now: datetime) -> RefreshResult:
    """Upsert profile rows and move memberships; report who changed.

    Set-based, like a whole store's write: on PostgreSQL the rows are copied into a staging
    table and upserted with one statement, not converted value by value for an executemany.
    """
    members = memberships(profiles, scoring, disabled_builtins(session, store),
                          rule_segments(session, store))
    table = _profile_table(profiles, members)
    write_rows(session, Profile.__table__,
               table.assign(store_id=store.id, computed_at=pd.Timestamp(now)).reset_index(),
               key=["customer_id"], mode="upsert")
    return RefreshResult(changed=_move_memberships(session, store.id, members, now))


def _move_memberships(session: Session, store_id: int, members: dict[int, dict[str, str]],
                      now: datetime) -> list[int]:
    """Close the memberships customers lost, open the ones they gained; return who moved."""
    open_rows: dict[int, dict[str, Any]] = {}  # plain rows: no ORM objects for a whole store
    for chunk in chunked(sorted(members)):
        for row in session.execute(select(
                Membership.id, Membership.customer_id, Membership.segment_key,
                Membership.explanation).where(
                one_of(session, Membership.customer_id, chunk), Membership.left_at.is_(None))):
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
            opening.extend((customer_id, key, wanted[key]) for key in gained)
    for chunk in chunked(closing):
        session.execute(update(Membership).where(one_of(session, Membership.id, chunk))
                        .values(left_at=now))
    # By primary key, one row at a time: a join to a staging table of the changed rows would
    # have PostgreSQL scan every membership of every store (the planner's choice here).
    update_by_id(session, Membership.__table__, explained)
    write_rows(session, Membership.__table__,
               pd.DataFrame(opening, columns=["customer_id", "segment_key", "explanation"])
               .assign(store_id=store_id, entered_at=pd.Timestamp(now)), key=["id"],
               mode="insert")
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
