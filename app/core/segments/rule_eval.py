"""Evaluate a rule against one customer's profile, and explain the outcome with actual values.

Semantics (shared with the vectorised evaluator in ``rule_frame``, and tested to agree):

- A missing value (absent key, None, NaN, NaT) makes every condition on it false, except
  ``is null``. That includes ``!=``, ``not in`` and ``not contains``; only an explicit ``not``
  turns a false into a true (``not orders_count = 1`` is true for a missing count).
- Strings compare exactly (case-sensitive), in ``=``, ``in [...]`` and ``contains`` alike.
- Datetimes compare by their UTC calendar date: ``last_order_at <= 2026-01-31`` includes the
  whole of that day; a naive datetime is taken as UTC.
- A ``str_list`` value is a list, tuple, set or array of strings; an empty list is not null.
  A bare string there counts as a one-item list.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from app.core.segments.rule_ast import (
    NUMERIC_TYPES,
    And,
    Compare,
    Condition,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    precedence,
    render_condition,
    wrap,
)

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
LIST_TYPES = (list, tuple, set, frozenset, np.ndarray)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def evaluate(node: Node, profile: Mapping[str, Any]) -> bool:
    """Return whether one profile satisfies the rule tree."""
    if isinstance(node, Or):
        return any(evaluate(child, profile) for child in node.operands)
    if isinstance(node, And):
        return all(evaluate(child, profile) for child in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, profile)
    return _condition_holds(node, normalise(profile.get(node.field), node.field_type))


def normalise(value: Any, field_type: str) -> Any:
    """Return the value as the evaluators compare it, or MISSING."""
    if isinstance(value, LIST_TYPES):
        return value if field_type == "str_list" else MISSING
    try:
        if value is None or bool(pd.isna(value)):
            return MISSING
    except (TypeError, ValueError):
        return MISSING
    if field_type == "datetime":
        return _utc_date(value)
    if field_type == "str_list":
        # pandas ``explode`` keeps a scalar as itself: the frame sees a one-item list too.
        return (value,)
    if field_type in NUMERIC_TYPES:
        return _number(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, int | float | np.number | np.bool_):
        return value
    if isinstance(value, str):
        # Mirrors pandas.to_numeric(errors="coerce") on an object column of the frame.
        try:
            return float(value)
        except ValueError:
            return MISSING
    return MISSING


def _utc_date(value: Any) -> Any:
    if isinstance(value, np.datetime64 | str):
        try:
            value = pd.Timestamp(value)
        except ValueError:
            return MISSING
        if value is pd.NaT:
            return MISSING
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return MISSING


def _condition_holds(node: Condition, value: Any) -> bool:
    if isinstance(node, IsNull):
        return (value is MISSING) != node.negated
    if value is MISSING:
        return False
    if isinstance(node, Compare):
        return bool(OPERATORS[node.op](value, node.value))
    if isinstance(node, InList):
        return any(value == item for item in node.values) != node.negated
    return any(item == node.value for item in value) != node.negated


# --------------------------------------------------------------------------- explanations


def explain(node: Node, profile: Mapping[str, Any]) -> str:
    """Explain the outcome: the conditions that decided it, each with the profile's value."""
    matched, text, _ = _explain(node, profile)
    return text if matched else f"no match: {text}"


def _explain(node: Node, profile: Mapping[str, Any]) -> tuple[bool, str, int]:
    """Return (outcome, explanation, precedence of the explanation's form)."""
    if isinstance(node, Not):
        matched, text, inner = _explain(node.operand, profile)
        return not matched, "not " + wrap(text, inner < precedence(node)), precedence(node)
    if isinstance(node, And | Or):
        parts = [_explain(child, profile) for child in node.operands]
        matched = all(p[0] for p in parts) if isinstance(node, And) else any(p[0] for p in parts)
        # Keep only the operands that decided the outcome: for a true ``and`` all of them, for
        # a false one the false ones; for a true ``or`` the true ones, for a false one all.
        if isinstance(node, And):
            decisive = parts if matched else [p for p in parts if not p[0]]
        else:
            decisive = [p for p in parts if p[0]] if matched else parts
        if len(decisive) == 1:
            return matched, decisive[0][1], decisive[0][2]
        joiner = " and " if isinstance(node, And) else " or "
        mine = precedence(node)
        return matched, joiner.join(wrap(t, p <= mine) for _, t, p in decisive), mine
    value = normalise(profile.get(node.field), node.field_type)
    matched = _condition_holds(node, value)
    shown = describe_value(profile.get(node.field), node.field_type, value)
    return matched, f"{node.field} {shown} {render_condition(node)}", precedence(node)


def describe_value(raw: Any, field_type: str, value: Any) -> str:
    """Render a profile value for humans: rounded numbers, quoted strings, UTC dates."""
    if value is MISSING:
        return "(missing)"
    if field_type == "datetime":
        return value.isoformat()
    if field_type == "str_list":
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        return "[" + ", ".join(_describe_scalar(item) for item in items) + "]"
    return _describe_scalar(raw)


def _describe_scalar(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        text = f"{number:.3g}" if abs(number) < 1 else f"{number:.2f}".rstrip("0").rstrip(".")
        return text
    if isinstance(value, str):
        return repr(value)
    return str(value)
