"""Bulk writes on the live path: what goes in by COPY or executemany comes back exactly, and
an insert that skips stored keys reports exactly the rows it inserted."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from app.storage.bulk import insert_new_rows, insert_rows, update_by_id, upsert_rows
from app.storage.models import Customer, CustomerFacts, LineItem, Order
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


def _order_row(store_id: int, platform_id: str, total: str) -> dict:
    placed = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return {"store_id": store_id, "platform_id": platform_id, "customer_id": None,
            "created_at": placed, "source_updated_at": placed, "currency": "EUR",
            "total": Decimal(total), "subtotal": Decimal(total), "discount_total": Decimal("0"),
            "discount_codes": ["SPRING", 'a "quoted", code'], "financial_status": "paid",
            "cancelled_at": None, "is_test": False, "items_count": 1}


def test_insert_new_rows_reports_only_the_rows_it_inserted(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    with db.session() as session:
        first = insert_new_rows(session, Order.__table__,
                                [_order_row(store_id, "2", "1.50"), _order_row(store_id, "1", "2")],
                                returning="platform_id")
    with db.session() as session:
        again = insert_new_rows(session, Order.__table__, [
            _order_row(store_id, "1", "9.99"), _order_row(store_id, "3", "3.0001")],
            returning="platform_id")
        stored = session.execute(select(Order.platform_id, Order.total, Order.created_at,
                                        Order.discount_codes, Order.cancelled_at)
                                 .order_by(Order.id)).all()
    assert sorted(first) == ["1", "2"]
    assert again == ["3"]
    placed = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    codes = ["SPRING", 'a "quoted", code']
    # Inserted in the order given; the stored order "1" keeps its own total.
    assert [tuple(row) for row in stored] == [("2", Decimal("1.50"), placed, codes, None),
                                              ("1", Decimal("2"), placed, codes, None),
                                              ("3", Decimal("3.0001"), placed, codes, None)]


def test_insert_new_rows_leaves_out_a_row_a_concurrent_transaction_inserted(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    returned: list[str] = []

    def insert_both() -> None:
        with db.session() as session:
            returned.extend(insert_new_rows(session, Order.__table__, [
                _order_row(store_id, "7", "1"), _order_row(store_id, "8", "1")],
                returning="platform_id"))

    with db.session() as session:
        insert_new_rows(session, Order.__table__, [_order_row(store_id, "7", "5")],
                        returning="platform_id")
        session.flush()
        other = threading.Thread(target=insert_both)
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for this transaction's order "7"
    other.join(10)
    assert not other.is_alive()
    assert returned == ["8"]
    with db.session() as session:
        totals = dict(session.execute(select(Order.platform_id, Order.total)).all())
    assert totals == {"7": Decimal("5"), "8": Decimal("1")}


def test_upsert_rows_inserts_new_keys_and_updates_stored_ones(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    with db.session() as session:
        customers = [Customer(store_id=store_id, platform_id=str(i)) for i in range(2)]
        session.add_all(customers)
        session.flush()
        ids = [c.id for c in customers]
        upsert_rows(session, CustomerFacts.__table__, [
            {"customer_id": ids[0], "store_id": store_id, "orders": {"1": [1, 2, 0, 0, 0, 1]},
             "product_types": {}, "vendors": {}}], key=["customer_id"])
    with db.session() as session:
        upsert_rows(session, CustomerFacts.__table__, [
            {"customer_id": ids[0], "store_id": store_id, "orders": {},
             "product_types": {'Tea, "green"': [2, 1]}, "vendors": {"Acme": [2, 1]}},
            {"customer_id": ids[1], "store_id": store_id, "orders": {"2": [3, 4, 0, 1, 1, 2]},
             "product_types": {}, "vendors": {}}], key=["customer_id"])
    with db.session() as session:
        rows = session.execute(select(CustomerFacts.customer_id, CustomerFacts.orders,
                                      CustomerFacts.product_types, CustomerFacts.vendors)
                               .order_by(CustomerFacts.customer_id)).all()
    assert [tuple(row) for row in rows] == [
        (ids[0], {}, {'Tea, "green"': [2, 1]}, {"Acme": [2, 1]}),
        (ids[1], {"2": [3, 4, 0, 1, 1, 2]}, {}, {})]
