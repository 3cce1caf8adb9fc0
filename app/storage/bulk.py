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
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Table, bindparam, update
from sqlalchemy.orm import Session

from app.storage.db import UTCDateTime

NULL = r"\N"  # the NULL marker of our CSV copies: an empty field stays an empty string
COPY_ROWS = 50_000  # rows per CSV buffer written into a COPY
RECORDS_BLOCK = 5_000  # rows a FrameRecords turns into dicts at a time


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
        from sqlalchemy.dialects.sqlite import insert

        statement = insert(table)
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



class FrameRecords(Mapping[int, dict[str, Any]]):
    """A frame's rows as ``{index: python_records row}``, made a block of rows at a time as
    they are iterated: a whole store's rows never all exist as dicts at once."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def __iter__(self) -> Iterator[int]:
        return iter(self.frame.index.tolist())

    def __getitem__(self, key: int) -> dict[str, Any]:
        if key not in self.frame.index:
            raise KeyError(key)
        return python_records(self.frame.loc[[key]])[0]

    def items(self) -> Iterator[tuple[int, dict[str, Any]]]:  # type: ignore[override]
        """Return (index, record) pairs, ``RECORDS_BLOCK`` rows converted at a time."""
        for start in range(0, len(self.frame), RECORDS_BLOCK):
            part = self.frame.iloc[start:start + RECORDS_BLOCK]
            yield from zip(part.index.tolist(), python_records(part), strict=True)
