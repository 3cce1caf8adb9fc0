"""Property: whatever order events arrive in, the live path ends in the profiles a full
recomputation of the store gives (``refresh_store``: every customer, the stored scoring), and
its incrementally kept customer facts equal facts built from scratch from the stored orders."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.core.assemble import metrics_as_of
from app.ingest.events import EMPTY, drain_batch
from app.scoring.facts import FACT_MAPS, build_facts
from app.scoring.recompute import facts_inputs, load_inputs, refresh_store
from app.storage.models import Customer, CustomerFacts, InboxEvent, Profile, Store
from tests.conftest import OTHER_ID
from tests.ingest.test_pipeline import reset
from tests.seeding import CUSTOMER_ID, add_store, days_ago, deliver, order_payload, refund_payload

NOW = days_ago(0)
OWNERS = [(CUSTOMER_ID, "john@example.com"), (OTHER_ID, "other@example.com"),
          (None, "Guest@Example.com")]
ORDERS = range(1, 5)
# What an order's first line item is: (product type, vendor, quantity); None is left out.
FIRST_LINES = [("Shirts", "Acme", 2), ("Hats", None, 1), (None, "Acme", 3), ("Hats", "Zed", 1)]

# One version of an order: (order, owner, total, cancelled, first line). The n-th version of
# all is the newest of its order so far (updated n minutes after the order was placed).
versions = st.lists(st.tuples(st.sampled_from(ORDERS), st.sampled_from(range(len(OWNERS))),
                              st.sampled_from(["10.00", "35.50", "120.00"]), st.booleans(),
                              st.sampled_from(range(len(FIRST_LINES)))),
                    min_size=1, max_size=8)
# A refund: (which version's order it refunds, amount); most refund an order that exists.
refunds = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["5.00", "20.00"])),
                   max_size=3)


def deliveries(order_versions, order_refunds) -> list[tuple[str, dict, str]]:
    """The webhooks a store would send for these versions and refunds, in creation order."""
    out, seen = [], set()
    for n, (order, owner, total, cancelled, line) in enumerate(order_versions):
        created = NOW - timedelta(days=10 * order)
        customer_id, email = OWNERS[owner]
        topic = "orders/updated" if order in seen else "orders/create"
        seen.add(order)
        payload = order_payload(order, customer_id=customer_id, email=email, total=total,
                                cancelled=cancelled, created=created,
                                updated=created + timedelta(minutes=n))
        product_type, vendor, quantity = FIRST_LINES[line]
        payload["line_items"][0].update(product_type=product_type, vendor=vendor,
                                        quantity=quantity)
        out.append((topic, payload, f"v{n}"))
    for n, (version, amount) in enumerate(order_refunds):
        order = order_versions[version][0] if version < len(order_versions) else max(ORDERS) + 1
        out.append(("refunds/create",
                    refund_payload(900 + n, order, amount, NOW - timedelta(hours=n + 1)),
                    f"r{n}"))
    return out


def profiles(app) -> dict[str, dict]:
    with app.extensions["db"].session() as session:
        return {c.platform_id or c.guest_email_key: {
            col.name: getattr(p, col.name) for col in Profile.__table__.columns
            if col.name != "computed_at"}
            for c, p in session.execute(select(Customer, Profile).join(
                Profile, Profile.customer_id == Customer.id))}


@settings(max_examples=20, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(order_versions=versions, order_refunds=refunds, data=st.data())
def test_any_arrival_order_ends_in_the_profiles_a_full_recomputation_gives(
        app, client, shop, order_versions, order_refunds, data):
    reset(app, shop)
    store_id = add_store(app, shop) if not stores(app) else stores(app)[0]
    sent = deliveries(order_versions, order_refunds)
    arrivals = data.draw(st.permutations(sent), label="arrival order")
    arrivals += data.draw(st.lists(st.sampled_from(sent), max_size=3), label="redelivered")
    db = app.extensions["db"]
    for delivery in arrivals:
        deliver(client, *delivery)
        if data.draw(st.booleans(), label="drain now"):
            drain(db, store_id, data.draw(st.integers(1, 4), label="batch size"))
    drain(db, store_id, 500)
    with db.session() as session:
        assert set(session.execute(select(InboxEvent.status)).scalars()) <= {"done", "ignored"}
    with db.session() as session:
        store = session.get(Store, store_id)
        assert stored_facts(session) == {c: f for c, f in build_facts(session, store).items()
                                         if any(f.values())}
        from_facts = metrics_as_of(facts_inputs(session, store, customer_ids(session)), NOW)
        from_history = metrics_as_of(load_inputs(session, store), NOW)
    assert_same_metrics(from_facts, from_history)
    live = profiles(app)
    with db.session() as session:
        result = refresh_store(db, session, session.get(Store, store_id), NOW)
    assert result.changed == []  # no segment moved either
    assert profiles(app) == live


def stored_facts(session) -> dict[int, dict]:
    """The facts rows that hold anything (a customer whose orders all left keeps an empty
    row)."""
    rows = {row.customer_id: {m: getattr(row, m) for m in FACT_MAPS}
            for row in session.execute(select(CustomerFacts)).scalars()}
    return {c: facts for c, facts in rows.items() if any(facts.values())}


def customer_ids(session) -> list[int]:
    return list(session.execute(select(Customer.id).where(Customer.deleted_at.is_(None)))
                .scalars())


def assert_same_metrics(from_facts: pd.DataFrame, from_history: pd.DataFrame) -> None:
    """Equal metrics: floats to 1e-9 relative (sums over a customer's orders may add in another
    order: the last bits can differ), everything else exactly."""
    assert list(from_facts.index) == sorted(from_history.index)
    from_history = from_history.loc[from_facts.index]
    for column in from_history.columns:
        for a, b in zip(from_facts[column], from_history[column], strict=True):
            if isinstance(b, float) and not isinstance(a, list):
                assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9), \
                    column
            else:
                assert (a is b or a == b or (pd.isna(a) is True and pd.isna(b) is True)), column


def drain(db, store_id: int, batch_size: int) -> None:
    """Drain the store as its drain task would, at the fixed ``NOW``."""
    while drain_batch(db, store_id, batch_size, now=NOW).status != EMPTY:
        pass


def stores(app) -> list[int]:
    with app.extensions["db"].session() as session:
        return list(session.execute(select(Store.id)).scalars())
