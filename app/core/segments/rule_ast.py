"""The immutable syntax tree of a compiled rule, and its canonical text.

Every condition carries its field's type so the evaluators need no field table. Canonical
text uses lower-case keywords, single-quoted strings, plain numbers (a ``days`` literal is its
number of days: ``2 weeks`` becomes ``14``) and only the parentheses precedence requires
(``not`` > ``and`` > ``or``); compiling it again yields an equal tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

Literal = int | float | str | bool | date

NUMERIC_TYPES = frozenset({"int", "float", "days"})
ORDERING_OPERATORS = frozenset({"<", "<=", ">", ">="})
COMPARISON_OPERATORS = frozenset({"=", "!="}) | ORDERING_OPERATORS


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op literal``; datetimes compare by their UTC calendar date."""

    field: str
    field_type: str
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class InList:
    """``field in [...]`` or, negated, ``field not in [...]``."""

    field: str
    field_type: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Contains:
    """``field contains 'x'`` (also written ``'x' in field``) for a ``str_list`` field."""

    field: str
    value: str
    negated: bool = False
    field_type: str = "str_list"


@dataclass(frozen=True, slots=True)
class IsNull:
    """``field is null`` or ``field is not null``: the only conditions true on a missing value."""

    field: str
    field_type: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation of the operand."""

    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    """True when every operand is true."""

    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """True when any operand is true."""

    operands: tuple[Node, ...]


Condition = Compare | InList | Contains | IsNull
Node = Condition | Not | And | Or

_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


def precedence(node: Node) -> int:
    """Return how tightly the node's canonical form binds (higher binds tighter)."""
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Not):
        return _NOT
    return _ATOM


def render(node: Node) -> str:
    """Return the canonical text of a node."""
    if isinstance(node, Or | And):
        joiner = " or " if isinstance(node, Or) else " and "
        # Same-operator children keep their parentheses so the text round-trips to this tree.
        return joiner.join(
            wrap(render(child), precedence(child) <= precedence(node)) for child in node.operands
        )
    if isinstance(node, Not):
        return "not " + wrap(render(node.operand), precedence(node.operand) < _NOT)
    return f"{node.field} {render_condition(node)}"


def render_condition(node: Condition) -> str:
    """Return the part of a condition after its field name, e.g. ``>= 3``."""
    if isinstance(node, Compare):
        return f"{node.op} {render_literal(node.value)}"
    if isinstance(node, InList):
        items = ", ".join(render_literal(value) for value in node.values)
        return f"{'not in' if node.negated else 'in'} [{items}]"
    if isinstance(node, Contains):
        return f"{'not contains' if node.negated else 'contains'} {render_literal(node.value)}"
    return "is not null" if node.negated else "is null"


def render_literal(value: Literal) -> str:
    """Return a literal as rule text that lexes back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Positional, never exponent notation: the lexer reads plain decimals only.
        return np.format_float_positional(value, trim="-")
    if isinstance(value, date):
        return value.isoformat()
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def wrap(text: str, needed: bool) -> str:
    """Parenthesise ``text`` when ``needed``."""
    return f"({text})" if needed else text


def fields_used(node: Node) -> frozenset[str]:
    """Return the names of the profile fields a node reads."""
    if isinstance(node, Or | And):
        return frozenset().union(*(fields_used(child) for child in node.operands))
    if isinstance(node, Not):
        return fields_used(node.operand)
    return frozenset({node.field})
