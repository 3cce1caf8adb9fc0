"""Bulk writes on the live path: what goes in by COPY or executemany comes back exactly."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from app.storage.bulk import insert_rows, update_by_id
from app.storage.models import Customer, LineItem, Order
from tests.seeding import add_store


def test_inserted_rows_keep_exact_money_and_missing_values(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    with db.session() as session:
        placed = datetime(2026, 1, 2, tzinfo=UTC)
        order = Order(store_id=store_id, platform_id="1", created_at=placed,
                      source_updated_at=placed, currency="EUR", financial_status="paid",
                      total=Decimal("10.00"), subtotal=Decimal("10.00"),
                      discount_total=Decimal("0"), discount_codes=[], items_count=3)
        session.add(order)
        session.flush()
        insert_rows(session, LineItem.__table__, [
            {"order_id": order.id, "product_id": "p1", "variant_id": None,
             "product_type": "Dresses", "vendor": "Acme", "quantity": 2,
             "price": Decimal("19.9999")},
            {"order_id": order.id, "product_id": None, "variant_id": None,
             "product_type": "", "vendor": None, "quantity": 1, "price": Decimal("0.01")}])

    with db.session() as session:
        lines = session.execute(select(LineItem.product_id, LineItem.product_type,
                                       LineItem.vendor, LineItem.quantity, LineItem.price)
                                .order_by(LineItem.id)).all()
    assert [tuple(line) for line in lines] == [
        ("p1", "Dresses", "Acme", 2, Decimal("19.9999")), (None, "", None, 1, Decimal("0.01"))]


def test_update_by_id_changes_only_the_rows_and_columns_given(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    with db.session() as session:
        customers = [Customer(store_id=store_id, platform_id=str(i), email=f"c{i}@example.com")
                     for i in range(3)]
        session.add_all(customers)
        session.flush()
        ids = [c.id for c in customers]
        update_by_id(session, Customer.__table__, [
            {"id": ids[0], "email": "new0@example.com", "source_updated_at": when},
            {"id": ids[2], "email": None, "source_updated_at": when}])

    with db.session() as session:
        rows = session.execute(select(Customer.id, Customer.email, Customer.source_updated_at)
                               .order_by(Customer.id)).all()
    assert [tuple(row) for row in rows] == [(ids[0], "new0@example.com", when),
                                            (ids[1], "c1@example.com", None),
                                            (ids[2], None, when)]
