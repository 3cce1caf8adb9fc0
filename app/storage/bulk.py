"""Whole-store reads and writes in bulk: ``COPY`` on PostgreSQL, plain cursors on SQLite.

Rows cross as plain numbers and strings straight into pandas frames, never through the ORM's
per-value type decorators (``Money``, ``UTCDateTime``): a 100k-customer store moves millions of
values, and per-value Python calls are what used to bound a rescore. Queries are written once in
the SQL both databases speak; the few dialect differences (timestamps as epoch microseconds)
come from ``epoch_us``. Every value a caller interpolates into SQL text is an integer.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ARRAY, JSON, Column, ColumnElement, Table, any_, bindparam, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.storage.db import UTCDateTime, chunked

NULL = r"\N"  # the NULL marker of our CSV copies: an empty field stays an empty string
COPY_ROWS = 50_000  # rows per CSV buffer written into a COPY


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def epoch_us(session: Session, column: str) -> str:
    """SQL for a UTC timestamp column as integer microseconds since the epoch (NULL stays NULL).

    SQLite holds timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC (``UTCDateTime``).
    """
    if is_postgres(session):
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    return (f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
            f" + CAST(COALESCE(substr({column}, 21, 6), '0') AS INTEGER))")


def id_filter(column: str, ids: list[int]) -> str:
    """``column IN (...)`` for a list of integer ids (never user text)."""
    return f"{column} IN ({','.join(str(int(i)) for i in ids)})"


def one_of(session: Session, column: Column[Any], values: list[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` in SQL text that stays the same whatever the values: on
    PostgreSQL ``column = ANY(:values)``, one array parameter, so psycopg parses the text once
    (it splits a statement of hundreds of placeholders afresh, in Python, on every execution);
    on SQLite an ``IN`` list (at most ``ID_CHUNK`` values)."""
    if is_postgres(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def id_between(column: str, low: int, high: int) -> str:
    """``column BETWEEN low AND high`` for integer ids."""
    return f"{column} BETWEEN {int(low)} AND {int(high)}"


def read_frame(session: Session, sql: str, columns: list[str]) -> pd.DataFrame:
    """The rows of a SELECT as a frame of plain values (strings, numbers; NULL as NaN/None).

    PostgreSQL streams them with ``COPY (...) TO STDOUT`` into pandas' CSV parser; SQLite reads
    them with a plain cursor.
    """
    if is_postgres(session):
        buffer = io.BytesIO()
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, NULL '{NULL}')") as copy:
            while block := copy.read():
                buffer.write(block)
        if not buffer.tell():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        buffer.seek(0)
        return pd.read_csv(buffer, header=None, names=columns, na_values=[NULL],
                           keep_default_na=False)
    rows = session.connection().exec_driver_sql(sql).fetchall()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def timestamps(values: pd.Series) -> pd.DatetimeIndex:
    """Epoch microseconds (NaN where missing) as UTC timestamps."""
    return pd.DatetimeIndex(pd.to_datetime(values.astype("Int64"), unit="us", utc=True))


def write_rows(session: Session, table: Table, frame: pd.DataFrame, *, key: list[str],
               mode: str) -> int:
    """Write a frame's rows into ``table``: ``insert``, ``update`` (by ``key``) or ``upsert``.

    PostgreSQL: ``COPY`` into the table (insert) or into a temporary table, then one
    ``UPDATE ... FROM`` / ``INSERT ... ON CONFLICT``. SQLite: one ``executemany``. JSON columns
    hold Python objects, timestamp columns pandas timestamps. Returns the rows written.
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    if not is_postgres(session):
        _executemany(session, table, frame, key, mode)
        return len(frame)
    raw = session.connection().connection.driver_connection
    names = ", ".join(columns)
    if mode == "insert":
        _copy_in(raw, table, table.name, frame)
        return len(frame)
    staging = f"staging_{table.name}"
    cursor = raw.cursor()
    cursor.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
                   f"SELECT {names} FROM {table.name} WITH NO DATA")
    _copy_in(raw, table, staging, frame)
    values = [c for c in columns if c not in key]
    if mode == "update":
        assignments = ", ".join(f"{c} = s.{c}" for c in values)
        matches = " AND ".join(f"t.{c} = s.{c}" for c in key)
        cursor.execute(f"UPDATE {table.name} AS t SET {assignments} FROM {staging} AS s "
                       f"WHERE {matches}")
    else:
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
        cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
                       f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}")
    cursor.execute(f"DROP TABLE {staging}")
    return len(frame)


def _copy_in(raw: Any, table: Table, target: str, frame: pd.DataFrame) -> None:
    """COPY the frame into ``target`` (``table`` or its staging copy), ``COPY_ROWS`` rows of
    CSV at a time; JSON columns as JSON text."""
    json_columns = set(json_column_names(table)) & set(frame.columns)
    with raw.cursor().copy(f"COPY {target} ({', '.join(frame.columns)}) FROM STDIN "
                           f"(FORMAT csv, NULL '{NULL}')") as copy:
        for start in range(0, len(frame), COPY_ROWS):
            rows = frame.iloc[start:start + COPY_ROWS].copy()
            for column in json_columns:
                rows[column] = [None if v is None else json.dumps(v) for v in rows[column]]
            buffer = io.StringIO()
            rows.to_csv(buffer, index=False, header=False, na_rep=NULL)
            copy.write(buffer.getvalue())


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (every row has the same keys, Python values as for an ``insert``).

    PostgreSQL: one ``COPY … FROM STDIN``, each value passed through its column type's bind
    processing first (money to ten-thousandths, UTC timestamps): SQLAlchemy's executemany
    would build every row's parameters in Python and run one statement per row. SQLite: one
    ``executemany``.
    """
    if not rows:
        return
    if not is_postgres(session):
        session.execute(table.insert(), rows)
        return
    _copy_rows(session, table, table.name, rows)


def insert_new_rows(session: Session, table: Table, rows: list[dict[str, Any]],
                    returning: str) -> list[Any]:
    """Insert the rows no unique key of ``table`` holds yet (``ON CONFLICT DO NOTHING``), one
    after the other in the order given (the order their keys are locked in); return the
    ``returning`` column of the rows inserted.

    PostgreSQL: the rows are copied into a staging table and inserted from it by one
    statement whose text never changes: a multi-row ``INSERT … VALUES`` of a batch carries
    thousands of placeholders, and psycopg splits a statement that long afresh, in Python,
    on every execution (its statement cache stops at 4 KB and 50 parameters).
    SQLite: ``INSERT … RETURNING`` by chunks of rows.
    """
    if not rows:
        return []
    if not is_postgres(session):
        statement = sqlite.insert(table).on_conflict_do_nothing().returning(table.c[returning])
        return [value for chunk in chunked(rows)
                for value in session.execute(statement, chunk).scalars()]
    return [row[0] for row in _insert_staged(session, table, rows,
                                             f"DO NOTHING RETURNING {returning}")]


def upsert_rows(session: Session, table: Table, rows: list[dict[str, Any]],
                key: list[str]) -> None:
    """Insert the rows, or update the other columns of those whose ``key`` is stored, one
    after the other in the order given (the order their keys are locked in).

    PostgreSQL: staged like ``insert_new_rows``, for the same reason. SQLite: one
    ``INSERT … ON CONFLICT DO UPDATE`` executemany per chunk of rows.
    """
    if not rows:
        return
    values = [name for name in rows[0] if name not in key]
    if not is_postgres(session):
        statement = sqlite.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=key, set_={name: statement.excluded[name] for name in values})
        for chunk in chunked(rows):
            session.execute(statement, chunk)
        return
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in values)
    _insert_staged(session, table, rows, f"({', '.join(key)}) DO UPDATE SET {assignments}")


def _insert_staged(session: Session, table: Table, rows: list[dict[str, Any]],
                   on_conflict: str) -> list[tuple[Any, ...]]:
    """COPY the rows into a temporary staging table beside a ``position`` column, then
    ``INSERT … SELECT`` them into ``table`` in that order with ``ON CONFLICT {on_conflict}``;
    return what the insert returns (PostgreSQL)."""
    names = ", ".join(rows[0])
    staging = f"staging_{table.name}"
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
                   f"SELECT CAST(0 AS BIGINT) AS position, {names} FROM {table.name} "
                   "WITH NO DATA")
    _copy_rows(session, table, staging, [{"position": position, **row}
                                         for position, row in enumerate(rows)])
    cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
                   f"ORDER BY position ON CONFLICT {on_conflict}")
    returned = cursor.fetchall() if cursor.description else []
    cursor.execute(f"DROP TABLE {staging}")
    return returned


def _copy_rows(session: Session, table: Table, target: str, rows: list[dict[str, Any]]
               ) -> None:
    """``COPY target (…) FROM STDIN`` the rows (all with the same keys: columns of ``table``,
    or of its staging table), each value through its column type's bind processing."""
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    # The dialect's own implementation of each type: a generic JSON column's is psycopg's Json.
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  if name in table.c else None for name in columns]
    raw = session.connection().connection.driver_connection
    with raw.cursor().copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([value if process is None or value is None else process(value)
                            for process, value in zip(processors, row.values(), strict=True)])


def update_by_id(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET … WHERE id = :id`` for each row (every row has the same keys): one
    executemany in Core, without the ORM's per-row bookkeeping of a bulk ``update(Model)``."""
    if not rows:
        return
    # The other keys of each row become the SET clause (Core names their parameters so).
    statement = update(table).where(table.c.id == bindparam("key_id"))
    session.execute(statement, [{"key_id": row["id"], **{name: value for name, value
                                                         in row.items() if name != "id"}}
                                for row in rows])


def _executemany(session: Session, table: Table, frame: pd.DataFrame, key: list[str],
                 mode: str) -> None:
    records = python_records(frame)
    if mode == "insert":
        session.execute(table.insert(), records)
    elif mode == "update":
        renamed = [{("key_" + k if k in key else k): v for k, v in r.items()} for r in records]
        statement = update(table).where(*(table.c[k] == bindparam("key_" + k) for k in key))
        session.execute(statement, renamed)
    else:
        statement = sqlite.insert(table)
        session.execute(statement.on_conflict_do_update(
            index_elements=key,
            set_={c: statement.excluded[c] for c in frame.columns if c not in key}), records)


def python_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (None for missing), for an ``executemany``."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            columns[name] = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        elif values.dtype == object:
            columns[name] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                             for v in values]
        else:
            columns[name] = [None if pd.isna(v) else v for v in values.astype(object)]
            columns[name] = [v.item() if isinstance(v, np.generic) else v for v in columns[name]]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def utc_column_names(table: Table) -> list[str]:
    """The table's timestamp columns."""
    return [c.name for c in table.columns if isinstance(c.type, UTCDateTime)]


def json_column_names(table: Table) -> list[str]:
    """The table's JSON columns."""
    return [c.name for c in table.columns if isinstance(c.type, JSON)]

