"""Findings 3 and 4: privacy requests match the right person, and a redaction leaves nothing.

The shop sends ``customers/data_request`` and ``customers/redact`` through the webhook; the
attacker here is whoever benefits from the wrong person's data being exported, or from the
right person's data surviving: ``bob@`` must not receive ``mybob@``'s deliveries, a guest who
typed their email in capitals must still be forgotten, and after a redaction no byte of the
customer's email, name, phone or address may remain in any file under ``instance/`` or in
Redis, while our tags are removed at the email tools before the address is forgotten.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import create_app
from app.storage import embedded_redis
from app.storage.models import Customer, InboxEvent
from tests.conftest import API_TOKEN, SHOP, SHOPIFY_SECRET, fixture_json
from tests.seeding import (
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def privacy_request(topic: str, customer_id: int, email: str, **extra) -> dict:
    name = "customers_data_request__sample.json" if topic == "customers/data_request" else \
        "customers_redact__sample.json"
    body = dict(fixture_json("shopify", name), shop_domain=SHOP, **extra)
    body["customer"] = {"id": customer_id, "email": email, "phone": None}
    return body


def inbox_bodies(app) -> dict[str, bytes | None]:
    with app.extensions["db"].session() as session:
        return dict(session.execute(select(InboxEvent.dedupe_key, InboxEvent.body)).all())


def test_a_data_request_for_bob_does_not_export_mybobs_deliveries(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, customer_id=111, email="bob@example.com",
                                                   created=days_ago(3)), "bob")
    deliver(client, "orders/create", order_payload(2, customer_id=91110,
                                                   email="mybob@example.com",
                                                   created=days_ago(3)), "mybob")
    process_pending(app)
    deliver(client, "customers/data_request",
            privacy_request("customers/data_request", 111, "bob@example.com",
                            orders_requested=[1], data_request={"id": 77}), "dr")
    assert process_pending(app) == ["done"]
    [summary] = client.get(f"/api/v1/stores/{store_id}/data-requests",
                           headers=AUTH).json["data_requests"]
    export = client.get(f"/api/v1/stores/{store_id}/data-requests/{summary['id']}",
                        headers=AUTH).json["export"]
    delivered = [d["body"]["id"] for d in export["webhook_deliveries"]]
    assert delivered == [1]  # bob's order only: not mybob's, though its bytes contain "bob@"


def test_a_redaction_finds_a_guest_by_email_whatever_its_case_and_spares_others(
        app, client, shop):
    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, customer_id=None, email="Guest@Example.COM",
                                                   created=days_ago(3)), "guest")
    unrelated = order_payload(424242, customer_id=5000, email="other@example.com",
                              created=days_ago(3), total="4242.00")
    unrelated["customer"].pop("default_address")
    deliver(client, "orders/create", unrelated, "unrelated")  # its bytes contain "4242"
    process_pending(app)
    deliver(client, "customers/redact",
            privacy_request("customers/redact", 4242, "guest@example.com"), "redact")
    assert process_pending(app) == ["done"]
    bodies = inbox_bodies(app)
    assert bodies["guest"] is None
    assert bodies["unrelated"] is not None and b"other@example.com" in bodies["unrelated"]
    with app.extensions["db"].session() as session:
        emails = set(session.execute(select(Customer.email)).scalars())
    assert emails == {None, "other@example.com"}


# ------------------------------------------------------------------ nothing left behind

JOHN = "john@example.com"  # the captured order's customer: John Smith, 123 Elm St., ...
HELD = "held@example.com"  # Mailchimp refuses this one and echoes the address in its error
PERSONAL = [JOHN, HELD, "John Smith", "Smith", "123 Elm St.", "123-123-1234", "Steve Shipper",
            "123 Shipping Street", "555-555-SHIP", "Shipping Company",
            hashlib.md5(JOHN.encode()).hexdigest(), hashlib.md5(HELD.encode()).hexdigest()]


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """The embedded default exactly as ``make run`` has it: SQLite and Redis in instance/."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    instance = tmp_path / "instance"
    application = create_app({
        "INSTANCE_PATH": instance, "TAGWISE_ENV": "test", "SECRET_KEY": "k" * 48,
        "TAGWISE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TAGWISE_API_TOKEN": API_TOKEN, "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "SYNC_DEBOUNCE_SECONDS": 0, "SYNC_MAX_DELAY_SECONDS": 0})
    assert application.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with application.app_context():
        yield application, instance
    application.extensions["db"].engine.dispose()
    embedded_redis.shutdown(instance)


def leftovers(app, instance: Path) -> list[str]:
    """Personal values still readable in any file under instance/ or in a Redis dump."""
    redis = app.extensions["redis"]
    redis.save()
    dumps = b"".join(redis.dump(key) or b"" for key in redis.scan_iter())
    files = [p for p in instance.rglob("*") if p.is_file()]
    assert any(p.name == "tagwise.db" for p in files) and any(p.suffix == ".rdb" for p in files)
    found = []
    for value in PERSONAL:
        needle = value.encode()
        found += [f"{value} in {p.name}" for p in files if needle in p.read_bytes()]
        found += [f"{value} in a Redis key"] if needle in dumps else []
    return found


def test_after_a_redaction_no_byte_of_the_customer_remains_and_their_tags_are_removed(
        embedded, shop):
    app, instance = embedded
    client = app.test_client()
    mailchimp = MailchimpStandin(compliance_emails=frozenset({HELD}))
    store_id = add_store(app, shop)
    with serving(mailchimp) as url:
        added = app.test_cli_runner().invoke(args=[
            "destinations", "add", "mailchimp", "--store", str(store_id), "--api-key",
            mailchimp.api_key, "--list-id", mailchimp.list_id, "--api-base-url", url + "/3.0",
            "--mode", "live", "--include-all"])
        assert added.exit_code == 0, added.output
        deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "o1")
        held = order_payload(2, customer_id=4243, email=HELD, created=days_ago(3))
        held["customer"].pop("default_address")
        deliver(client, "orders/create", held, "o2")
        process_pending(app)
        sync_dirty(app)
        assert mailchimp.tags_of(JOHN)  # John carries our tags at Mailchimp
        with app.extensions["db"].engine.connect() as connection:  # as SQLite does by itself
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # every 1000 pages
        assert leftovers(app, instance)  # the check can see what is there
        deliver(client, "customers/redact",
                privacy_request("customers/redact", 115310627314723954, JOHN), "r1")
        deliver(client, "customers/redact", privacy_request("customers/redact", 4243, HELD),
                "r2")
        assert process_pending(app) == ["done", "done"]
        sync_dirty(app)
        assert mailchimp.tags_of(JOHN) == set()  # removed before the address was forgotten
    assert leftovers(app, instance) == []


def test_on_postgresql_a_redaction_vacuums_what_it_touched(app, client, shop):
    engine = app.extensions["db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's case is the file check above")
    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "o1")
    process_pending(app)

    def vacuums() -> int:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return connection.exec_driver_sql(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'customers'"
            ).scalar()

    before = vacuums()
    deliver(client, "customers/redact",
            privacy_request("customers/redact", 115310627314723954, JOHN), "r1")
    assert process_pending(app) == ["done"]
    assert vacuums() == before + 1
