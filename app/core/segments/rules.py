"""Custom segment rules: a small, safe language over profile fields (DESIGN.md §4).

    days_since_last_order <= 30 and orders_count >= 3
    rfm_group in ['champions', 'loyal'] and not churn_risk = 'high'
    product_types contains 'Shoes' or 'Hats' in product_types
    last_order_at >= 2026-01-01 and mean_days_between_orders < 2 weeks
    accepts_marketing and (predicted_clv_12m > 250 or value_tier is null)

The language, in short (grammar in ``rule_parser``, semantics in ``rule_eval``):

- A condition is a field compared with a literal: ``= != < <= > >=`` (``==`` is accepted as
  ``=``), ``in [..]`` / ``not in [..]``, ``is null`` / ``is not null``. Combine with ``and``,
  ``or``, ``not`` and parentheses; ``not`` binds tighter than ``and``, which binds tighter
  than ``or``. A ``bool`` field alone means ``field = true``.
- Literals: numbers (``3``, ``-1.5``); for ``days`` fields a day unit may follow (``30d``,
  ``30 days``, ``2w``, ``2 weeks`` = 14); strings in single or double quotes with escapes
  ``\\\\ \\' \\" \\n \\t \\r``; dates ``2026-01-31`` or ``date('2026-01-31')``; ``true``/``false``.
- List fields (``str_list``) support membership both ways: ``product_types contains 'x'``
  and ``'x' in product_types`` (negated: ``not contains`` / ``'x' not in``).
- Types are checked against the field table: ``str`` and ``bool`` fields take only ``=``,
  ``!=`` and ``in``; a unit needs a ``days`` field; a date needs a ``datetime`` field.
- Keywords are case-insensitive; field names and string comparisons are exact.
- A missing value makes every condition on it false except ``is null`` (so ``x != 1`` is
  false for a missing ``x``, while ``not x = 1`` is true). Datetimes compare by UTC date.

Anything else is a :class:`RuleError` with line, column, a machine ``reason`` and a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from app.core.profiles.fields import PROFILE_FIELDS
from app.core.segments import rule_eval, rule_frame
from app.core.segments.rule_ast import Node, fields_used, render
from app.core.segments.rule_errors import RuleError
from app.core.segments.rule_lexer import MAX_RULE_CHARS
from app.core.segments.rule_parser import MAX_NESTING_DEPTH, parse_rule

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_RULE_CHARS",
    "Rule",
    "RuleError",
    "compile_rule",
    "preview",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled, type-checked rule: the text as written and its syntax tree."""

    text: str = field(compare=False)
    expression: Node

    def __str__(self) -> str:
        return render(self.expression)

    @property
    def fields(self) -> frozenset[str]:
        """The profile fields this rule reads."""
        return fields_used(self.expression)

    def evaluate(self, profile: Mapping[str, Any]) -> bool:
        """Return whether one customer's profile matches; absent keys count as missing."""
        return rule_eval.evaluate(self.expression, profile)

    def evaluate_frame(self, frame: pd.DataFrame) -> pd.Series:
        """Return a boolean Series (indexed like ``frame``) of the matching customers."""
        return rule_frame.evaluate_frame(self.expression, frame)

    def explain(self, profile: Mapping[str, Any]) -> str:
        """Explain with actual values why the profile matched (or, prefixed, why it did not)."""
        return rule_eval.explain(self.expression, profile)


def compile_rule(text: str, fields: Mapping[str, str] = PROFILE_FIELDS) -> Rule:
    """Parse and type-check rule text against a field table; raise RuleError if it is invalid."""
    return Rule(text, parse_rule(text, fields))


def preview(rule: Rule | str, frame: pd.DataFrame, sample_size: int = 10) -> dict[str, Any]:
    """Return the rule's match count, share and the first ``sample_size`` matching index ids."""
    compiled = compile_rule(rule) if isinstance(rule, str) else rule
    matches = compiled.evaluate_frame(frame)
    count = int(matches.sum())
    total = len(frame)
    # Sorted index order, so the same data always previews the same sample.
    sample = frame.index[matches.to_numpy()].sort_values()[: max(sample_size, 0)]
    return {
        "rule": str(compiled),
        "count": count,
        "total": total,
        "share": count / total if total else 0.0,
        "sample": sample.tolist(),
    }
