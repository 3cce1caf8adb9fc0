import json
import time

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.pool import NullPool

from app.storage.models import InboxEvent, Store
from app.web.webhooks.stores import STORE_CACHE_SECONDS
from tests.conftest import SHOP, SHOPIFY_SECRET, fixture_bytes, shopify_headers


def add_store(app):
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "shopify", "--domain", SHOP, "--access-token", "shpat_test",
        "--no-check"])
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def inbox_count(app) -> int:
    with app.extensions["db"].session() as session:
        return session.execute(select(func.count(InboxEvent.id))).scalar()


def post(client, body: bytes, headers: dict):
    return client.post("/webhooks/shopify", data=body, headers=headers)


def test_signed_delivery_is_committed_and_acknowledged(app, client):
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    response = post(client, body, shopify_headers(body, "orders/create", "w-1"))
    assert response.status_code == 200 and response.json["status"] == "accepted"
    with app.extensions["db"].session() as session:
        event = session.execute(select(InboxEvent)).scalar_one()
    assert (event.topic, event.dedupe_key, event.status) == ("orders/create", "w-1", "pending")
    assert event.body == body  # the raw bytes, exactly as signed


def test_duplicate_delivery_is_acknowledged_without_a_second_row(app, client):
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    headers = shopify_headers(body, "orders/create", "w-dup")
    assert post(client, body, headers).json["status"] == "accepted"
    again = post(client, body, headers)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert inbox_count(app) == 1


def test_bad_or_missing_signature_is_401_and_stores_nothing(app, client):
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    headers = shopify_headers(body, "orders/create", "w-2", secret="wrong")
    response = post(client, body, headers)
    assert response.status_code == 401
    assert response.json["error"]["reason"] == "bad_signature"
    del headers["X-Shopify-Hmac-Sha256"]
    assert post(client, body, headers).status_code == 401
    assert inbox_count(app) == 0


def test_previous_secret_is_accepted_during_rotation(app, client):
    add_store(app)
    app.config["SHOPIFY_API_SECRET_PREVIOUS"] = SHOPIFY_SECRET
    app.config["SHOPIFY_API_SECRET"] = "rotated-secret"
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert post(client, body, shopify_headers(body, "orders/create", "w-3")).status_code == 200


MALFORMED = (b"{not json", b"[1, 2]", b"\xff\xfe", b'{"a": 1} trailing', b'{"a": "\xc3"}',
             b'{"total": NaN}', b'{"total": 1e999}', b"", b'{"id": 1', b'"just a string"',
             b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")  # json.loads: RecursionError


def test_malformed_json_is_400_not_500(app, client):
    add_store(app)
    # Orders are checked without being parsed, the shop-naming topics parsed: the same 400s.
    for topic in ("orders/create", "app/uninstalled"):
        for body in MALFORMED:
            response = post(client, body, shopify_headers(body, topic, "w-bad"))
            assert response.status_code == 400, (topic, body)
            assert response.json["error"]["reason"] == "malformed_json"
    assert inbox_count(app) == 0
    body = fixture_bytes("shopify", "orders_create__sample.json")
    for n in range(3):  # the view's checker is used again and again by the same thread
        assert post(client, body, shopify_headers(body, "orders/create", f"w-ok{n}")
                    ).status_code == 200
    assert inbox_count(app) == 3


def test_missing_topic_or_id_is_400(app, client):
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    headers = shopify_headers(body, "orders/create", "w-4")
    del headers["X-Shopify-Webhook-Id"]
    response = post(client, body, headers)
    assert response.status_code == 400 and response.json["error"]["reason"] == "missing_header"


def test_oversized_body_is_413(app, client):
    add_store(app)
    body = json.dumps({"id": 1, "pad": "x" * (2 * 1024 * 1024)}).encode()
    response = post(client, body, shopify_headers(body, "orders/create", "w-big"))
    assert response.status_code == 413
    assert inbox_count(app) == 0


def test_unknown_shop_and_unknown_topic_are_acknowledged_without_processing(app, client):
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    response = post(client, body, shopify_headers(body, "orders/create", "w-5",
                                                  shop="someone-else.myshopify.com"))
    assert response.status_code == 200 and response.json["reason"] == "unknown_shop"
    response = post(client, body, shopify_headers(body, "products/update", "w-6"))
    assert response.status_code == 200 and response.json["reason"] == "unsupported_topic"
    assert inbox_count(app) == 0


def test_custom_app_store_verifies_with_its_own_secret(app, client):
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "shopify", "--domain", SHOP, "--access-token", "t",
        "--webhook-secret", "custom-app-secret", "--no-check"])
    assert result.exit_code == 0
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert post(client, body, shopify_headers(body, "orders/create", "w-7")).status_code == 401
    ok = post(client, body, shopify_headers(body, "orders/create", "w-7",
                                            secret="custom-app-secret"))
    assert ok.status_code == 200


def test_a_rotated_store_secret_takes_effect_at_once_and_the_old_one_within_seconds(
        app, client):
    """The store is remembered for STORE_CACHE_SECONDS: a delivery signed with the new secret
    makes the view look again at once; the old secret is refused once the window has passed."""
    store_id = add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        session.get(Store, store_id).webhook_secret_enc = box.encrypt("first-secret")
    headers = shopify_headers(body, "orders/create", "rot-1", secret="first-secret")
    assert post(client, body, headers).status_code == 200
    with app.extensions["db"].session() as session:
        session.get(Store, store_id).webhook_secret_enc = box.encrypt("second-secret")
    new = shopify_headers(body, "orders/create", "rot-2", secret="second-secret")
    assert post(client, body, new).status_code == 200
    stores = app.extensions["webhook_stores"]
    stores.clock = lambda: time.monotonic() + STORE_CACHE_SECONDS
    old = shopify_headers(body, "orders/create", "rot-3", secret="first-secret")
    assert post(client, body, old).status_code == 401
    assert inbox_count(app) == 2


def test_a_store_deleted_while_remembered_is_an_unknown_shop_not_a_500(app, client):
    store_id = add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert post(client, body, shopify_headers(body, "orders/create", "del-1")).status_code == 200
    with app.extensions["db"].session() as session:
        session.execute(delete(Store).where(Store.id == store_id))
    response = post(client, body, shopify_headers(body, "orders/create", "del-2"))
    assert response.status_code == 200 and response.json["reason"] == "unknown_shop"
    assert inbox_count(app) == 0  # the first row went with its store


def test_unknown_shops_are_not_remembered_and_a_new_store_is_seen_at_once(app, client):
    body = fixture_bytes("shopify", "orders_create__sample.json")
    for n in range(50):
        response = post(client, body, shopify_headers(
            body, "orders/create", f"u-{n}", shop=f"probe-{n}.myshopify.com"))
        assert response.json["reason"] == "unknown_shop"
    response = post(client, body, shopify_headers(body, "orders/create", "u-new"))
    assert response.json["reason"] == "unknown_shop"
    assert len(app.extensions["webhook_stores"]) == 0
    add_store(app)
    response = post(client, body, shopify_headers(body, "orders/create", "u-new"))
    assert response.status_code == 200 and response.json["status"] == "accepted"
    assert inbox_count(app) == 1


def test_after_postgresql_dropped_every_connection_the_next_delivery_is_committed(app, client):
    """As after a PostgreSQL restart: the pooled connections are dead, the web process must
    notice before it uses one (a 500 here would be a delivery Shopify has to retry)."""
    db = app.extensions["db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connections only")
    add_store(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert post(client, body, shopify_headers(body, "orders/create", "pg-1")).status_code == 200
    others = ("FROM pg_stat_activity WHERE datname = current_database() "
              "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    admin = create_engine(db.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        terminated = connection.execute(text(f"SELECT pg_terminate_backend(pid) {others}")).all()
        assert terminated  # the web pool's connection was among them
        while connection.execute(text(f"SELECT count(*) {others}")).scalar():
            pass  # until every terminated backend has exited (a restart's end state)
    admin.dispose()
    response = post(client, body, shopify_headers(body, "orders/create", "pg-2"))
    assert response.status_code == 200 and response.json["status"] == "accepted"
    assert inbox_count(app) == 2
