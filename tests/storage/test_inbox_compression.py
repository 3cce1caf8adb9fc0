"""Inbox bodies: stored exactly, compressed with lz4 where PostgreSQL offers it (0009)."""

import pytest
from sqlalchemy import text

from app.ingest.inbox import insert_event
from app.storage.models import Store
from tests.conftest import fixture_bytes


def test_a_webhook_body_is_stored_exactly_and_lz4_compressed_on_postgresql(app):
    db = app.extensions["db"]
    with db.session() as session:
        store = Store(platform="shopify", domain="lz4.myshopify.com")
        session.add(store)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    event_id = insert_event(db, store.id, "shopify", "orders/create", "lz4-1", body)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM inbox_events WHERE id = :id"),
                                  {"id": event_id}).scalar() == body
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite stores bodies uncompressed")
        if not connection.execute(text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'")).scalar():
            pytest.skip("this PostgreSQL server is built without lz4")
        compression = connection.execute(text(
            "SELECT pg_column_compression(body) FROM inbox_events WHERE id = :id"),
            {"id": event_id}).scalar()
    assert compression == "lz4"
