"""Evaluate a rule over a whole store's profiles at once (one row per customer).

Same semantics as the per-customer evaluator in ``rule_eval`` (see its docstring); the two are
property-tested to agree row for row. Each column is prepared once per call as a NumPy array
plus a missing mask, then every condition is one vectorised comparison. ``str_list`` cells
(lists, tuples, sets or None) are exploded into one long column so ``contains`` is a single
vectorised equality too. A column absent from the frame counts as missing for every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.core.segments.rule_ast import (
    NUMERIC_TYPES,
    And,
    Compare,
    Condition,
    Contains,
    InList,
    IsNull,
    Node,
    Not,
    Or,
)
from app.core.segments.rule_eval import OPERATORS

BoolArray = np.ndarray


@dataclass(frozen=True, slots=True)
class _Column:
    values: np.ndarray  # float64, datetime64[D] or object, depending on the field type
    missing: BoolArray


def evaluate_frame(node: Node, frame: pd.DataFrame) -> pd.Series:
    """Return a boolean Series, indexed like ``frame``, of the rows satisfying the rule tree."""
    columns = _Columns(frame)
    return pd.Series(_evaluate(node, columns), index=frame.index, dtype=bool)


def _evaluate(node: Node, columns: _Columns) -> BoolArray:
    if isinstance(node, Or):
        return np.logical_or.reduce([_evaluate(child, columns) for child in node.operands])
    if isinstance(node, And):
        return np.logical_and.reduce([_evaluate(child, columns) for child in node.operands])
    if isinstance(node, Not):
        return ~_evaluate(node.operand, columns)
    return _condition(node, columns)


def _condition(node: Condition, columns: _Columns) -> BoolArray:
    column = columns.get(node.field, node.field_type)
    present = ~column.missing
    if isinstance(node, IsNull):
        return present if node.negated else column.missing.copy()
    if isinstance(node, Contains):
        return (columns.contains(node.field, node.value) != node.negated) & present
    if isinstance(node, InList):
        hits = _isin(column.values, [_literal(value, node.field_type) for value in node.values])
        return (hits != node.negated) & present
    assert isinstance(node, Compare)
    literal = _literal(node.value, node.field_type)
    if column.values.dtype == object:
        # Object columns (str, bool) only take = and !=; compare through pandas so None and
        # mixed cells compare elementwise instead of raising.
        equal = pd.Series(column.values, dtype=object).eq(literal).to_numpy(dtype=bool)
        hits = equal if node.op == "=" else ~equal
    else:
        with np.errstate(invalid="ignore"):
            hits = np.asarray(OPERATORS[node.op](column.values, literal), dtype=bool)
    return hits & present


def _literal(value: object, field_type: str) -> object:
    if field_type == "datetime":
        return np.datetime64(value, "D")
    return value


def _isin(values: np.ndarray, items: list[object]) -> BoolArray:
    if values.dtype == object:
        return pd.Series(values, dtype=object).isin(items).to_numpy(dtype=bool)
    return np.isin(values, np.asarray(items, dtype=values.dtype))


class _Columns:
    """Each field's column prepared once per evaluation: typed values plus a missing mask."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.size = len(frame)
        self._prepared: dict[str, _Column] = {}
        self._exploded: dict[str, pd.Series] = {}

    def raw(self, field: str) -> pd.Series:
        if field in self.frame.columns:
            return self.frame[field]
        return pd.Series([None] * self.size, dtype=object)

    def get(self, field: str, field_type: str) -> _Column:
        if field not in self._prepared:
            self._prepared[field] = _prepare(self.raw(field), field_type)
        return self._prepared[field]

    def contains(self, field: str, item: str) -> BoolArray:
        if field not in self._exploded:
            cells = pd.Series(self.raw(field).to_numpy(dtype=object), dtype=object)
            # One row per list item, indexed by the customer's position; empty lists and
            # missing cells become NaN rows, which equal nothing.
            self._exploded[field] = cells.explode()
        exploded = self._exploded[field]
        hits = np.zeros(self.size, dtype=bool)
        matched = exploded.eq(item).to_numpy(dtype=bool)
        hits[exploded.index.to_numpy()[matched]] = True
        return hits


def _prepare(series: pd.Series, field_type: str) -> _Column:
    if field_type in NUMERIC_TYPES:
        numbers = pd.to_numeric(series, errors="coerce")
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
        return _Column(values, np.isnan(values))
    if field_type == "datetime":
        days = _utc_days(series)
        return _Column(days, np.isnat(days))
    if field_type == "str_list":
        cells = series.to_numpy(dtype=object)
        return _Column(cells, series.isna().to_numpy(dtype=bool))
    values = series.to_numpy(dtype=object, na_value=None)
    return _Column(values, series.isna().to_numpy(dtype=bool))


def _utc_days(series: pd.Series) -> np.ndarray:
    """Return each timestamp's UTC calendar date as datetime64[D] (NaT when missing)."""
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(series.dtype):
            series = series.dt.tz_localize("UTC")  # naive datetimes are taken as UTC
        else:
            series = pd.to_datetime(series, utc=True, errors="coerce")
    naive_utc = series.dt.tz_convert("UTC").dt.tz_localize(None)
    # Casting to days floors, also before 1970, matching datetime.date() per customer.
    return naive_utc.to_numpy().astype("datetime64[D]")
