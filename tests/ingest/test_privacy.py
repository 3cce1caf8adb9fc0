"""Shopify's privacy topics: nothing personal left after customers/redact; shop/redact empties."""

from __future__ import annotations

from sqlalchemy import func, select

from app.storage.db import Base
from app.storage.models import Customer, InboxEvent, Membership, Profile, Store
from tests.conftest import API_TOKEN, OTHER_ID, SHOP, fixture_json
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    refund_payload,
    sync_dirty,
)
from tests.web.api.spec import assert_conforms


def test_customers_redact_leaves_nothing_personal_and_removes_our_tags(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "x1")
    other = order_payload(2, customer_id=4242, email="keep@x.com", created=days_ago(3))
    other["customer"].pop("default_address")  # the sample address names the first customer
    deliver(client, "orders/create", other, "x2")
    process_pending(app)
    sync_dirty(app)
    assert any(t.startswith("tw:") for t in shop.tags_of(str(CUSTOMER_ID)))
    request = fixture_json("shopify", "customers_redact__sample.json")
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
    body = dict(fixture_json("shopify", "shop_redact__sample.json"), shop_domain=SHOP)
    deliver(client, "shop/redact", body, "y2")
    assert process_pending(app) == ["done"]
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id) is None
        assert session.execute(select(func.count(Customer.id))).scalar() == 0
        assert session.execute(select(func.count(InboxEvent.id))).scalar() == 0
    assert list(app.extensions["redis"].scan_iter(f"tw:p:{store_id}:*")) == []


def data_request(request_id: int = 9999) -> dict:
    body = fixture_json("shopify", "customers_data_request__sample.json")
    body.update(shop_domain="tagwise-test.myshopify.com", data_request={"id": request_id},
                customer={"id": CUSTOMER_ID, "email": "john@example.com",
                          "phone": "555-625-1199"})
    return body


def api(client, path: str):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {API_TOKEN}"})


def test_customers_data_request_exports_everything_held_about_the_customer(
        app, client, shop, caplog):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(30)), "r1")
    deliver(client, "refunds/create", refund_payload(7, 1, "10.00", days_ago(29)), "r2")
    deliver(client, "orders/create", order_payload(2, customer_id=OTHER_ID, email="o@x.com",
                                                   created=days_ago(3)), "r3")
    process_pending(app)
    sync_dirty(app)
    caplog.set_level("INFO")
    deliver(client, "customers/data_request", data_request(), "r4")
    deliver(client, "customers/data_request", data_request(), "r5")  # Shopify asks again
    assert process_pending(app) == ["done", "done"]
    listing = api(client, f"/stores/{store_id}/data-requests")
    assert listing.status_code == 200
    [summary] = listing.json["data_requests"]
    assert summary["customer_platform_id"] == str(CUSTOMER_ID)
    assert summary["data_request_id"] == "9999" and "export" not in summary
    assert_conforms(listing, "GET", "/stores/{store_id}/data-requests")
    shown = api(client, f"/stores/{store_id}/data-requests/{summary['id']}")
    assert_conforms(shown, "GET", "/stores/{store_id}/data-requests/{export_id}")
    export = shown.json["export"]
    assert [c["email"] for c in export["customers"]] == ["john@example.com"]
    assert export["profiles"][0]["orders_count"] == 1
    [order] = export["orders"]  # the other customer's order is not theirs to see
    assert order["platform_id"] == "1" and order["line_items"]
    assert [r["amount"] for r in order["refunds"]] == ["10"]
    assert {m["segment_key"] for m in export["memberships"]} >= {"lifecycle-new"}
    [state] = export["sync_states"]
    assert state["destination"] == "shopify_tags" and state["tags"]
    assert {d["topic"] for d in export["webhook_deliveries"]} == {"orders/create"}
    request_logs = [r.getMessage() for r in caplog.records if "data request" in r.getMessage()]
    assert request_logs and not any("john@example.com" in m or str(CUSTOMER_ID) in m
                                    for m in request_logs)
    # After the customer is redacted, the export (personal data too) is gone.
    redact = data_request()
    redact.pop("data_request")
    deliver(client, "customers/redact", redact, "r6")
    process_pending(app)
    assert api(client, f"/stores/{store_id}/data-requests").json["data_requests"] == []


def test_data_requests_are_scoped_to_their_store_and_malformed_ones_are_parked(
        app, client, shop):
    store_id = add_store(app, shop)
    body = data_request()
    body["customer"] = {"email": "john@example.com"}
    deliver(client, "customers/data_request", body, "m1")
    assert process_pending(app) == ["parked"]
    deliver(client, "customers/data_request", data_request(), "m2")
    process_pending(app)
    [summary] = api(client, f"/stores/{store_id}/data-requests").json["data_requests"]
    assert api(client, f"/stores/{store_id + 1}/data-requests").status_code == 404
    assert api(client, f"/stores/{store_id}/data-requests/{summary['id'] + 1}").status_code \
        == 404
    assert api(client, f"/stores/{store_id + 1}/data-requests/{summary['id']}").status_code \
        == 404
    assert client.get(f"/api/v1/stores/{store_id}/data-requests").status_code == 401
