"""A whole-store rescore reads aggregates and writes only changes, yet stores exactly what the
previous implementation stored: every order and line read through the ORM into the pure core.

The oracle below is that previous read path, kept verbatim (it was ``app.scoring.recompute
.load_inputs`` before the database did the aggregation); the same pure functions then give the
profiles and memberships the store must hold.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from app.core.assemble import (
    StoreInputs,
    fit_scoring,
    memberships,
    metrics_as_of,
    predict,
    score_profiles,
)
from app.scoring import recompute
from app.scoring.recompute import (
    PROFILE_COLUMNS,
    disabled_builtins,
    facts_inputs,
    rule_segments,
)
from app.storage.db import chunked
from app.storage.models import Customer, LineItem, Membership, Order, Profile, Refund, Store
from tasks.rescore import run_rescore
from tests.seeding import add_store, deliver, order_payload, process_pending, refund_payload

NOW = datetime.now(UTC).replace(microsecond=0)
AS_OF = NOW - timedelta(hours=1)


def seed_store(client, app) -> None:
    """Thirty customers through the real webhooks: repeat buyers, discounts, a cancellation by
    update, refunds (one larger than its order), email guests, an anonymous order."""
    rng = np.random.default_rng(7)
    order_id = 1000
    for customer in range(30):
        for n in range(int(rng.integers(1, 5))):
            order_id += 1
            created = NOW - timedelta(days=float(rng.uniform(2, 700)),
                                      hours=float(rng.uniform(0, 23)))
            total = f"{rng.uniform(5, 400):.2f}"
            discount = f"{rng.uniform(1, 20):.2f}" if rng.random() < 0.3 else "0.00"
            payload = order_payload(order_id, customer_id=9000 + customer, total=total,
                                    email=f"c{customer}@example.com", created=created,
                                    discount=discount)
            deliver(client, "orders/create", payload, f"o{order_id}")
            if rng.random() < 0.1:  # cancelled later by an update
                payload = order_payload(order_id, customer_id=9000 + customer, total=total,
                                        email=f"c{customer}@example.com", created=created,
                                        updated=created + timedelta(hours=3), cancelled=True)
                deliver(client, "orders/updated", payload, f"u{order_id}")
            elif rng.random() < 0.15:
                amount = "9999.00" if n == 2 else f"{float(total) / 3:.2f}"
                deliver(client, "refunds/create", refund_payload(
                    order_id, order_id, amount, created + timedelta(days=3)), f"r{order_id}")
    for guest in range(4):  # email guests: customers without a platform id
        deliver(client, "orders/create", order_payload(
            5000 + guest, customer_id=None, email=f"Guest{guest}@Example.com",
            created=NOW - timedelta(days=10 * guest + 1), total="42.50"), f"g{guest}")
    deliver(client, "orders/create", order_payload(
        6000, customer_id=None, email=None, created=NOW - timedelta(days=3)), "anonymous")
    assert set(process_pending(app)) == {"done"}


def previous_inputs(session, store: Store, as_of: datetime) -> StoreInputs:
    """The previous read path: every order and line through the ORM (oracle)."""
    customer_rows = session.execute(select(Customer.id, Customer.email, Customer.accepts_marketing)
                                    .where(Customer.store_id == store.id,
                                           Customer.deleted_at.is_(None))).all()
    ids = np.array([row.id for row in customer_rows], dtype="int64")
    customers = pd.DataFrame(
        {"has_email": [bool(row.email) for row in customer_rows],
         "accepts_marketing": [row.accepts_marketing for row in customer_rows]},
        index=pd.Index(ids, name="customer_id"))
    refunds = (select(Refund.order_platform_id, func.sum(Refund.amount).label("refunded"))
               .where(Refund.store_id == store.id).group_by(Refund.order_platform_id).subquery())
    rows = session.execute(
        select(Order.id, Order.customer_id, Order.created_at, Order.total, Order.discount_total,
               Order.discount_codes, Order.cancelled_at, Order.items_count, refunds.c.refunded)
        .outerjoin(refunds, refunds.c.order_platform_id == Order.platform_id)
        .where(Order.store_id == store.id, Order.customer_id.is_not(None),
               Order.created_at <= as_of)).all()
    order_id, customer_id, created, total, discount, codes, cancelled, items, refunded = zip(
        *rows, strict=True)
    total_f = np.array([float(t) for t in total])
    refunded_f = np.array([float(r or 0) for r in refunded])
    is_cancelled = np.array([c is not None for c in cancelled])
    orders = pd.DataFrame({
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
    live = orders.loc[~orders["cancelled"], ["order_id", "customer_id"]]
    line_rows = []
    for chunk in chunked(live["order_id"].tolist()):
        line_rows.extend(session.execute(select(
            LineItem.order_id, LineItem.product_type, LineItem.vendor, LineItem.quantity)
            .where(LineItem.order_id.in_(chunk))).all())
    lines = pd.DataFrame(line_rows, columns=["order_id", "product_type", "vendor", "quantity"])
    lines["customer_id"] = lines["order_id"].map(live.set_index("order_id")["customer_id"])
    return StoreInputs(ids, orders, lines, customers, store.timezone)


def expected_state(session, store: Store, as_of: datetime):
    """Profiles (customer id -> column -> value) and open memberships the oracle gives."""
    as_of_ts = pd.Timestamp(as_of)
    inputs = previous_inputs(session, store, as_of)
    profiles = metrics_as_of(inputs, as_of_ts)
    scoring = fit_scoring(profiles)
    predictions, _ = predict(inputs.orders, as_of_ts, store.timezone)
    profiles = score_profiles(profiles, scoring, as_of_ts, predictions)
    members = memberships(profiles, scoring, disabled_builtins(session, store),
                          rule_segments(session, store))
    table = {}
    for customer_id, row in profiles[PROFILE_COLUMNS].iterrows():
        values = {column: _plain(value) for column, value in row.items()}
        values["segment_keys"] = sorted(members[int(customer_id)])
        values["explanations"] = members[int(customer_id)]
        table[int(customer_id)] = values
    open_memberships = {(c, key, why) for c, segments in members.items()
                        for key, why in segments.items()}
    return table, open_memberships


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if isinstance(value, np.generic) else value


def stored_state(session, store: Store):
    """The profiles and open memberships the store holds."""
    table = {}
    for profile in session.execute(select(Profile).filter_by(store_id=store.id)).scalars():
        table[profile.customer_id] = {
            column: getattr(profile, column)
            for column in [*PROFILE_COLUMNS, "segment_keys", "explanations"]}
    open_memberships = set(tuple(row) for row in session.execute(
        select(Membership.customer_id, Membership.segment_key, Membership.explanation)
        .where(Membership.store_id == store.id, Membership.left_at.is_(None))).all())
    return table, open_memberships


@pytest.mark.parametrize("block", [recompute.STORE_BLOCK_CUSTOMERS, 7])
def test_rescore_stores_exactly_what_the_previous_implementation_computed(app, client, shop,
                                                                          monkeypatch, block):
    monkeypatch.setattr(recompute, "STORE_BLOCK_CUSTOMERS", block)  # 7: five blocks
    store_id = add_store(app, shop, "--timezone", "America/New_York")
    runner = app.test_cli_runner()
    added = runner.invoke(args=["segments", "add", "--store", str(store_id), "--key", "big",
                                "--rule", "orders_count >= 2 and net_spent > 200"])
    assert added.exit_code == 0, added.output
    seed_store(client, app)

    first = run_rescore(store_id, AS_OF)

    db = app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        expected_profiles, expected_memberships = expected_state(session, store, AS_OF)
        stored_profiles, stored_memberships = stored_state(session, store)
    assert len(expected_profiles) == 34  # 30 customers and 4 email guests
    assert stored_profiles == expected_profiles
    assert stored_memberships == expected_memberships
    assert any(key == "big" for _, key, _ in stored_memberships)
    # The live path scored everyone with the prior model: the first rescore's fit changes
    # every profile; memberships move only where a segment or its reason changed.
    assert first["rows_written_profiles"] == 34

    # Nothing changed since: a second rescore at the same as_of writes no profile or
    # membership row (only the store-level reports).
    again = run_rescore(store_id, AS_OF)
    assert again["rows_written_profiles"] == 0 and again["rows_written_memberships"] == 0
    assert again["changed"] == 0
    with db.session() as session:
        assert stored_state(session, session.get(Store, store_id)) == (expected_profiles,
                                                                        expected_memberships)


@pytest.mark.parametrize("picked", [slice(0, 3), slice(5, 6)])
def test_the_live_paths_facts_give_the_same_metrics_as_the_whole_history(app, client, shop,
                                                                         picked):
    store_id = add_store(app, shop, "--timezone", "America/New_York")
    seed_store(client, app)
    as_of = pd.Timestamp(AS_OF)
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        whole = metrics_as_of(previous_inputs(session, store, AS_OF), as_of)
        ids = whole.index[picked].tolist()
        some = metrics_as_of(facts_inputs(session, store, ids), as_of)
    pd.testing.assert_frame_equal(some.sort_index(), whole.loc[ids].sort_index(),
                                  check_dtype=False)
