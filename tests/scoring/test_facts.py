"""Customer facts: a store from before the facts table gets them on its first write, and the
nightly facts check repairs a row that drifted."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from app.scoring.facts import build_facts
from app.storage.models import Customer, CustomerFacts, Profile, Store
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    refund_payload,
)


def seed(client, app) -> None:
    """Two orders and a refund for one customer, one order for an email guest."""
    for order, days in ((1, 40), (2, 10)):
        deliver(client, "orders/create", order_payload(order, created=days_ago(days)), f"o{order}")
    deliver(client, "refunds/create",
            refund_payload(90, 2, "15.00", days_ago(9)), "r90")
    deliver(client, "orders/create", order_payload(
        3, customer_id=None, email="guest@example.com", created=days_ago(5)), "o3")
    assert set(process_pending(app)) == {"done"}


def stored_facts(session) -> dict[int, dict]:
    return {row.customer_id: {"orders": row.orders, "product_types": row.product_types,
                              "vendors": row.vendors}
            for row in session.execute(select(CustomerFacts)).scalars()}


def test_a_store_from_before_the_facts_table_gets_them_on_its_first_write(app, client, shop):
    store_id = add_store(app, shop)
    seed(client, app)
    db = app.extensions["db"]
    with db.session() as session:  # as migration 0009 leaves an existing store
        session.execute(delete(CustomerFacts))
        session.execute(update(Store).values(facts_built_at=None))

    deliver(client, "orders/create", order_payload(4, created=days_ago(1), total="60.00"), "o4")
    assert set(process_pending(app)) == {"done"}

    with db.session() as session:
        store = session.get(Store, store_id)
        assert store.facts_built_at is not None
        facts = stored_facts(session)
        assert facts == build_facts(session, store)
        customer = session.execute(select(Customer.id).filter_by(
            platform_id=str(CUSTOMER_ID))).scalar_one()
        assert sorted(facts[customer]["orders"]) == ["1", "2", "4"]
        profile = session.get(Profile, customer)
        assert profile.orders_count == 3  # the history before the upgrade still counts
        assert profile.net_spent == 100.0 + 85.0 + 60.0


def test_the_nightly_facts_check_repairs_a_drifted_row(app, client, shop):
    from tasks.rescore import check_store_facts

    store_id = add_store(app, shop)
    seed(client, app)
    db = app.extensions["db"]
    with db.session() as session:
        customer = session.execute(select(Customer.id).filter_by(
            platform_id=str(CUSTOMER_ID))).scalar_one()
        right = stored_facts(session)
        session.execute(update(CustomerFacts).where(CustomerFacts.customer_id == customer)
                        .values(orders={}, product_types={}, vendors={}))
    assert check_store_facts.apply(args=[store_id]).get() == 1
    assert check_store_facts.apply(args=[store_id]).get() == 0  # nothing left to repair
    with db.session() as session:
        assert stored_facts(session) == right
    deliver(client, "orders/create", order_payload(5, created=days_ago(1)), "o5")
    assert set(process_pending(app)) == {"done"}
    with db.session() as session:  # the live path builds on the repaired row
        assert session.get(Profile, customer).orders_count == 3
