"""The webhook's inbox insert: one statement on a pooled DBAPI connection in autocommit mode
(``Database.autocommit``), on PostgreSQL and SQLite alike."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.ingest.inbox import UnknownStore, insert_event
from app.storage.db import utcnow
from app.storage.models import INBOX_PENDING, InboxEvent, Store


@pytest.fixture
def store_id(app) -> int:
    with app.extensions["db"].session() as session:
        store = Store(platform="shopify", domain="insert.myshopify.com")
        session.add(store)
        session.flush()
        return store.id


def test_an_inserted_event_is_committed_with_every_column_a_drain_reads(app, store_id):
    db = app.extensions["db"]
    before = utcnow()
    inbox_id = insert_event(db, store_id, "shopify", "orders/create", "key-1", b'{"id": 1}',
                            "event-1")
    with db.session() as session:  # another connection sees it: committed
        row = session.get(InboxEvent, inbox_id)
    assert (row.store_id, row.source, row.topic, row.dedupe_key, row.event_id, row.body) == (
        store_id, "shopify", "orders/create", "key-1", "event-1", b'{"id": 1}')
    assert (row.status, row.attempts, row.error, row.processed_at) == (INBOX_PENDING, 0, None,
                                                                       None)
    assert before <= row.received_at <= utcnow() + timedelta(seconds=1)
    assert row.received_at.tzinfo is not None


def test_the_same_delivery_or_platform_event_again_is_not_a_second_row(app, store_id):
    db = app.extensions["db"]
    first = insert_event(db, store_id, "shopify", "orders/create", "key-1", b"{}", "event-1")
    assert first is not None
    assert insert_event(db, store_id, "shopify", "orders/create", "key-1", b"{}") is None
    assert insert_event(db, store_id, "shopify", "orders/create", "key-2", b"{}",
                        "event-1") is None
    with db.session() as session:
        assert session.execute(select(InboxEvent.id)).scalars().all() == [first]


def test_a_missing_store_is_unknown_and_the_connection_stays_usable(app, store_id):
    db = app.extensions["db"]
    with pytest.raises(UnknownStore):
        insert_event(db, store_id + 1000, "shopify", "orders/create", "key-1", b"{}")
    assert insert_event(db, store_id, "shopify", "orders/create", "key-1", b"{}") is not None


def test_the_connection_goes_back_to_the_pool_in_transaction_mode(app, store_id):
    """A session that rolls back after the autocommit insert used the same connection must
    really roll back: autocommit must not leak to the pool's next user."""
    db = app.extensions["db"]
    insert_event(db, store_id, "shopify", "orders/create", "key-1", b"{}")
    with pytest.raises(RuntimeError), db.session() as session:
        session.execute(text("UPDATE stores SET domain = 'changed.myshopify.com'"))
        raise RuntimeError("rolled back")
    with db.session() as session:
        assert session.get(Store, store_id).domain == "insert.myshopify.com"


def test_a_connection_that_failed_otherwise_is_closed_not_pooled(app):
    db = app.extensions["db"]
    dbapi_error = db.engine.dialect.loaded_dbapi.Error
    with pytest.raises(dbapi_error), db.autocommit() as failed:
        failed.cursor().execute("SELECT no_such_column FROM stores")
    with pytest.raises(dbapi_error):
        failed.cursor().execute("SELECT 1")  # closed: its state after the error is unknown
    with db.autocommit() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
