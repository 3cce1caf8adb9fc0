"""The inbox: every event, whether a webhook or found by reconciliation, enters here first."""

from __future__ import annotations

from datetime import datetime

import redis
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from app import jobs
from app.storage import redis_state
from app.storage.db import Database
from app.storage.models import INBOX_DONE, INBOX_IGNORED, INBOX_PARKED, InboxEvent

# Statuses whose raw body has served its purpose. Parked bodies are kept to the same age so
# `tagwise inbox replay` can use them for the whole retention period, and no longer: a body
# holds personal data. Pending events keep theirs whatever their age: they are not done.
PURGEABLE_STATUSES = (INBOX_DONE, INBOX_IGNORED, INBOX_PARKED)


_INSERTS: dict[str, Insert] = {}  # dialect name -> the inbox insert, built once


def _insert_statement(db: Database) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id`` on the inbox table, values bound per
    call: built and compiled once per dialect instead of once per webhook."""
    dialect = db.engine.dialect.name
    if dialect not in _INSERTS:
        _INSERTS[dialect] = (db.insert(InboxEvent.__table__).on_conflict_do_nothing()
                             .returning(InboxEvent.id))
    return _INSERTS[dialect]


def insert_event(db: Database, connection: Connection | Session, store_id: int, source: str,
                 topic: str, dedupe_key: str, body: bytes,
                 event_id: str | None = None) -> int | None:
    """Insert an inbox row on the caller's connection (one statement, no ORM object); None
    when the event is already there (the same ``dedupe_key``, or the same platform
    ``event_id`` under another delivery id)."""
    return connection.execute(_insert_statement(db), {
        "store_id": store_id, "source": source, "topic": topic, "dedupe_key": dedupe_key,
        "body": body, "event_id": event_id}).scalar()


def signal_store(client: redis.Redis, store_id: int) -> None:
    """After commit: mark the store pending, and queue its drain unless one is on its way
    (``tasks/ingest``: one drain per store takes everything pending, in batches).

    Raises the broker's or Redis's error; the caller decides whether that matters (a committed
    row is not lost: the sweeper re-signals its store).
    """
    if redis_state.mark_pending(client, store_id):
        queue_drain(client, store_id)


def queue_drain(client: redis.Redis, store_id: int) -> None:
    """Queue the drain of a store whose pending mark was just set (by ``signal_store`` or a
    pipeline's ``redis_state.mark_pending_in``); clear the mark if the broker refuses, so the
    next delivery queues it again. Raises the broker's error."""
    try:
        jobs.enqueue("tasks.ingest.drain_store", store_id, retry=False)
    except Exception:
        redis_state.unmark_pending(client, store_id)
        raise


def record_event(db: Database, store_id: int, source: str, topic: str, dedupe_key: str,
                 body: bytes) -> int | None:
    """Insert and commit an inbox row; None when the same event is already there."""
    with db.session() as session:
        return insert_event(db, session, store_id, source, topic, dedupe_key, body)


def purge_bodies(db: Database, received_before: datetime) -> int:
    """Drop the raw body of finished events received before the cut-off; return how many."""
    with db.session() as session:
        return session.execute(
            update(InboxEvent)
            .where(InboxEvent.status.in_(PURGEABLE_STATUSES),
                   InboxEvent.received_at < received_before, InboxEvent.body.is_not(None))
            .values(body=None)).rowcount
