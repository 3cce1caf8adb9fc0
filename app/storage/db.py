"""The database: engine, session factory and the column types every model shares."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
MONEY_SCALE = 10_000  # four decimal places: enough for every ISO 4217 currency
ID_CHUNK = 900  # values per IN (...) list: below SQLite's bound-parameter limit


def chunked(values: list[Any]) -> list[list[Any]]:
    """``values`` in lists of at most ``ID_CHUNK``, for ``IN (...)`` queries and batches."""
    return [values[i:i + ID_CHUNK] for i in range(0, len(values), ID_CHUNK)]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator):
    """An exact decimal amount stored as an integer number of ten-thousandths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * MONEY_SCALE).to_integral_value())

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value) / MONEY_SCALE


class Base(DeclarativeBase):
    """Declarative base of every model."""


# How long a SQLite writer waits for another before failing: within the webhook's budget
# (Shopify gives up after 5 s), which the live path's short write transactions keep well clear of.
SQLITE_BUSY_TIMEOUT_SECONDS = 4.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process and the workers read while one writes; synchronous=NORMAL is
    # durable across a process crash in WAL mode (only a power loss can roll back the last
    # commits) and saves an fsync per commit; the busy timeout makes a writer wait for another
    # instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted and overwritten content is zeroed on disk, not left in free space (redaction).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _replace_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Have the pool replace a PostgreSQL connection the server ended while it sat idle."""
    # Instead of pool_pre_ping's SELECT 1 (a round trip per checkout, one per webhook): an idle
    # connection has nothing to read unless the server ended it (a PostgreSQL that stops or
    # restarts sends each session a termination notice and closes it; a killed backend's
    # socket reads as end of file), so a readable socket, or one psycopg already knows is
    # broken, has the pool replace it with a new connection. A server that vanishes without a
    # word (a silent network drop) is not seen here: the statement fails as it would after a
    # successful ping, and the request is refused without acknowledging anything.
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server ended this connection while it was idle")


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str):
        self.url = url
        # JSON columns read with orjson (psycopg and SQLite alike): a fifth of json's CPU, for
        # the five JSON values a drained order reads back. Written with json, unchanged.
        options: dict[str, Any] = {"future": True, "json_deserializer": orjson.loads}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        else:
            options.update(pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(url, **options)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine, "checkout", _replace_if_closed_by_server)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit(self) -> Iterator[Any]:
        """A pooled DBAPI connection (psycopg or sqlite3) on which every statement commits on
        its own, for a request whose one write is a single statement (the webhook's inbox
        insert): no BEGIN and COMMIT round trips, and none of SQLAlchemy's execution machinery
        (statement cache lookup, parameter and result processing: a fifth of a webhook's CPU).

        The connection goes back to the pool in its usual mode; after any error but a refused
        row (an integrity error) it is discarded instead, since its state is then unknown.
        """
        pooled = self.engine.raw_connection()
        connection = pooled.driver_connection
        sqlite_mode = self.engine.dialect.name == "sqlite"
        try:
            if sqlite_mode:
                connection.isolation_level = None  # sqlite3: no implicit BEGIN
            else:
                connection.autocommit = True
            yield connection
        except self.engine.dialect.loaded_dbapi.IntegrityError:
            raise
        except BaseException:
            pooled.invalidate()
            raise
        finally:
            if pooled.is_valid:
                if sqlite_mode:
                    connection.isolation_level = ""  # sqlite3's default: deferred BEGIN
                else:
                    connection.autocommit = False
                pooled.close()

    def erase_freed_space(self, tables: Iterable[str]) -> None:
        """After a redaction committed: leave the erased values nowhere on disk we control.

        SQLite (``secure_delete`` already zeroed the freed cells) copies the write-ahead log
        into the database and truncates it, so the old pages it held are gone. PostgreSQL
        vacuums the tables, so their dead row versions are pruned and their space reused; what
        its WAL and backups still hold is described in the README ("Security model").
        """
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy and busy[0]:
                log.warning("WAL checkpoint after a redaction was blocked by a reader; the "
                            "next checkpoint completes it")
            return
        with self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.exec_driver_sql(f'VACUUM "{table}"')

    def insert(self, table: Any) -> Any:
        """A dialect insert that supports ``on_conflict_do_nothing`` (PostgreSQL or SQLite)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def db() -> Database:
    """The running app's Database, for views and commands."""
    from flask import current_app

    return current_app.extensions["db"]
