"""Shopify's privacy topics: nothing personal left after customers/redact; shop/redact empties."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import Base
from app.models import Customer, InboxEvent, Membership, Profile, Store
from tests.conftest import fixture_json
from tests.shopify_helpers import (
    CUSTOMER_ID,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)
from tests.test_pipeline import add_store


def test_customers_redact_leaves_nothing_personal_and_removes_our_tags(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "x1")
    other = order_payload(2, customer_id=4242, email="keep@x.com", created=days_ago(3))
    other["customer"].pop("default_address")  # the sample address names the first customer
    deliver(client, "orders/create", other, "x2")
    process_pending(app)
    sync_dirty(app)
    assert any(t.startswith("tw:") for t in shop.tags_of(str(CUSTOMER_ID)))
    request = fixture_json("shopify", "customers_redact.json")
    request.update(shop_domain="tagwise-test.myshopify.com",
                   customer={"id": CUSTOMER_ID, "email": "john@example.com", "phone": None})
    deliver(client, "customers/redact", request, "x3")
    assert process_pending(app) == ["done"]
    sync_dirty(app)
    assert shop.tags_of(str(CUSTOMER_ID)) == ["VIP"]  # ours removed, the merchant's kept
    db = app.extensions["db"]
    with db.session() as session:
        customer = session.execute(select(Customer).filter_by(
            platform_id=str(CUSTOMER_ID))).scalar_one()
        assert customer.email is None and customer.accepts_marketing is None
        assert session.get(Profile, customer.id) is None
        assert session.execute(select(func.count(Membership.id)).filter_by(
            customer_id=customer.id)).scalar() == 0
        bodies = [b for b in session.execute(select(InboxEvent.body)).scalars() if b]
    assert bodies and not any(b"john@example.com" in b or str(CUSTOMER_ID).encode() in b
                              for b in bodies)  # the other customer's delivery is kept
    assert app.extensions["redis"].exists(f"tw:p:{store_id}:{customer.id}") == 0
    with db.session() as session:  # nothing personal anywhere in SQL
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                text = " ".join(str(v) for v in row)
                assert "john@example.com" not in text, table.name


def test_shop_redact_deletes_the_store_and_everything_under_it(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "y1")
    process_pending(app)
    body = fixture_json("shopify", "shop_redact.json")
    deliver(client, "shop/redact", body, "y2")
    assert process_pending(app) == ["done"]
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id) is None
        assert session.execute(select(func.count(Customer.id))).scalar() == 0
        assert session.execute(select(func.count(InboxEvent.id))).scalar() == 0
    assert list(app.extensions["redis"].scan_iter(f"tw:p:{store_id}:*")) == []
