"""The inbox: every event, whether a webhook or found by reconciliation, enters here first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import update
from sqlalchemy.engine import Dialect

from app import jobs
from app.storage import redis_state
from app.storage.db import Database, utcnow
from app.storage.models import INBOX_DONE, INBOX_IGNORED, INBOX_PARKED, INBOX_PENDING, InboxEvent

# Statuses whose raw body has served its purpose. Parked bodies are kept to the same age so
# `tagwise inbox replay` can use them for the whole retention period, and no longer: a body
# holds personal data. Pending events keep theirs whatever their age: they are not done.
PURGEABLE_STATUSES = (INBOX_DONE, INBOX_IGNORED, INBOX_PARKED)


class UnknownStore(Exception):
    """The inbox insert named a store that no longer exists (its foreign key refused it)."""


# The one statement a delivery writes, in each driver's parameter style. Every column is
# given, since Python-side model defaults do not run outside SQLAlchemy's execution.
INSERT_COLUMNS = ("store_id", "source", "topic", "dedupe_key", "event_id", "body",
                  "received_at", "status", "attempts")
INSERT_SQL = {
    dialect: (f"INSERT INTO {InboxEvent.__tablename__} ({', '.join(INSERT_COLUMNS)}) "
              f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))}) "
              "ON CONFLICT DO NOTHING RETURNING id")
    for dialect, mark in (("postgresql", "%s"), ("sqlite", "?"))}
# psycopg passes the parameters in binary format: the body goes as its bytes, not as hex text
# twice its size (a quarter of the insert's client CPU).
EXECUTE_OPTIONS = {"postgresql": {"binary": True}, "sqlite": {}}


def insert_event(db: Database, store_id: int, source: str, topic: str, dedupe_key: str,
                 body: bytes, event_id: str | None = None) -> int | None:
    """Insert and commit an inbox row: one statement on a DBAPI connection (``db.autocommit``).
    Returns its id, or None when the event is already there (the same ``dedupe_key``, or the
    same platform ``event_id`` under another delivery id). Raises ``UnknownStore`` when the
    store is gone."""
    dialect = db.engine.dialect
    values = (store_id, source, topic, dedupe_key, event_id, body,
              _received_at(dialect)(utcnow()), INBOX_PENDING, 0)
    try:
        with db.autocommit() as connection:
            cursor = connection.cursor()
            cursor.execute(INSERT_SQL[dialect.name], values, **EXECUTE_OPTIONS[dialect.name])
            row = cursor.fetchone()
            cursor.close()
    except dialect.loaded_dbapi.IntegrityError as exc:
        raise UnknownStore(store_id) from exc
    return row[0] if row else None


_RECEIVED_AT: dict[str, Callable[[datetime], Any]] = {}  # dialect name -> bind processing


def _received_at(dialect: Dialect) -> Callable[[datetime], Any]:
    """How the dialect stores a ``received_at`` value (SQLite: naive UTC text)."""
    if dialect.name not in _RECEIVED_AT:
        column_type = InboxEvent.__table__.c.received_at.type
        _RECEIVED_AT[dialect.name] = column_type.bind_processor(dialect) or (lambda v: v)
    return _RECEIVED_AT[dialect.name]


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


def purge_bodies(db: Database, received_before: datetime) -> int:
    """Drop the raw body of finished events received before the cut-off; return how many."""
    with db.session() as session:
        return session.execute(
            update(InboxEvent)
            .where(InboxEvent.status.in_(PURGEABLE_STATUSES),
                   InboxEvent.received_at < received_before, InboxEvent.body.is_not(None))
            .values(body=None)).rowcount
