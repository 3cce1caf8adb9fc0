"""Properties of the rule language: the two evaluators agree, canonical text round-trips, and
no input text makes the compiler raise anything but RuleError."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.profiles.fields import PROFILE_FIELDS
from app.core.segments.rule_ast import (
    And,
    Compare,
    Contains,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    render,
)
from app.core.segments.rule_errors import REASONS
from app.core.segments.rules import RuleError, compile_rule

FIELDS_BY_TYPE: dict[str, list[str]] = {}
for _name, _type in PROFILE_FIELDS.items():
    FIELDS_BY_TYPE.setdefault(_type, []).append(_name)

# Small pools make equal values (and so the interesting edges of = and in) common.
STRINGS = st.sampled_from(["", "a", "b", "Loyal", "loyal", "it's", "back\\slash", "é"]) | st.text(
    max_size=4
)
NUMBERS = (
    st.sampled_from([0, 1, 2, 3, -1, 0.5, 2.5, 30])
    | st.integers(-1000, 1000)
    | st.floats(-1000, 1000, allow_nan=False).map(lambda x: round(x, 3))
)
FIRST_DAY = date(2026, 1, 1)
DATES = st.integers(0, 4).map(lambda n: FIRST_DAY + timedelta(days=n))
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
DATETIMES = st.builds(
    lambda day, minutes, zone: (
        datetime.combine(day, datetime.min.time(), zone) + timedelta(minutes=minutes)
    ),
    DATES,
    st.integers(0, 24 * 60 - 1),
    ZONES,
)
LITERALS = {"int": NUMBERS, "float": NUMBERS, "days": NUMBERS}
LITERALS |= {"str": STRINGS, "bool": st.booleans(), "datetime": DATES}
ALL_OPS = ["=", "!=", "<", "<=", ">", ">="]


def values_of(field_type: str) -> st.SearchStrategy[Any]:
    """Profile values of one type, missing ones included."""
    if field_type in {"int"}:
        present = st.integers(-1000, 1000) | st.sampled_from([0, 1, 2, 3, 30])
    elif field_type in {"float", "days"}:
        present = NUMBERS | st.just(float("nan"))
    elif field_type == "str":
        present = STRINGS
    elif field_type == "bool":
        present = st.booleans()
    elif field_type == "datetime":
        present = DATETIMES
    else:
        items = st.lists(STRINGS, max_size=3)
        present = items | items.map(tuple) | items.map(set)
    return st.none() | present


PROFILES = st.fixed_dictionaries(
    {name: values_of(field_type) for name, field_type in PROFILE_FIELDS.items()}
)


@st.composite
def conditions(draw: st.DrawFn) -> Node:
    field_type = draw(st.sampled_from(sorted(FIELDS_BY_TYPE)))
    name = draw(st.sampled_from(FIELDS_BY_TYPE[field_type]))
    if draw(st.integers(0, 5)) == 0:
        return IsNull(name, field_type, draw(st.booleans()))
    if field_type == "str_list":
        return Contains(name, draw(STRINGS), draw(st.booleans()))
    literal = LITERALS[field_type]
    if draw(st.booleans()):
        values = tuple(draw(st.lists(literal, min_size=1, max_size=3)))
        return InList(name, field_type, values, draw(st.booleans()))
    ops = ALL_OPS if field_type in {"int", "float", "days", "datetime"} else ["=", "!="]
    return Compare(name, field_type, draw(st.sampled_from(ops)), draw(literal))


RULES = st.recursive(
    conditions(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        children.map(Not),
    ),
    max_leaves=8,
)


def store_frame(profiles: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a store's profile frame the way the profile task does: datetimes as UTC ns."""
    frame = pd.DataFrame.from_records(
        profiles, columns=list(PROFILE_FIELDS), index=range(1000, 1000 + len(profiles))
    )
    for name in FIELDS_BY_TYPE["datetime"]:
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
    return frame


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=RULES, profiles=st.lists(PROFILES, min_size=1, max_size=8))
def test_vectorised_and_per_customer_evaluation_agree(
    node: Node, profiles: list[dict[str, Any]]
) -> None:
    rule = compile_rule(render(node))
    assert rule.expression == node  # canonical text round-trips to the same tree

    per_customer = [rule.evaluate(profile) for profile in profiles]
    vectorised = rule.evaluate_frame(store_frame(profiles))

    assert vectorised.tolist() == per_customer
    assert vectorised.index.tolist() == list(range(1000, 1000 + len(profiles)))
    # Absent keys mean the same as None, and explanations say which way it went.
    for profile, matched in zip(profiles, per_customer, strict=True):
        sparse = {key: value for key, value in profile.items() if value is not None}
        assert rule.evaluate(sparse) == matched
        assert rule.explain(profile).startswith("no match: ") != matched


FRAGMENTS = st.sampled_from(
    [
        *list(PROFILE_FIELDS)[:12],
        "product_types",
        "has_email",
        "order_count",
        "Orders_Count",
        "and",
        "OR",
        "not",
        "in",
        "is",
        "null",
        "contains",
        "true",
        "False",
        "date",
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "!",
        "&&",
        "(",
        ")",
        "[",
        "]",
        ",",
        "3",
        "-2.5",
        "1.",
        "30d",
        "2",
        "weeks",
        "3months",
        "1e5",
        "99999999999999999",
        "2026-01-31",
        "2026-13-01",
        "'x'",
        '"y"',
        "'unterminated",
        "'esc\\q'",
        "\\",
        "\n",
        "'",
        "date('2026-02-01')",
        "\u2265",
    ]
)
TOKEN_SOUP = st.lists(FRAGMENTS, max_size=14).flatmap(
    lambda parts: st.sampled_from([" ".join(parts), "".join(parts)])
)


def assert_compiles_or_rule_error(text: str) -> None:
    try:
        rule = compile_rule(text)
    except RuleError as error:
        assert error.reason in REASONS
        lines = text.split("\n")
        assert 1 <= error.line <= len(lines)
        assert 1 <= error.column <= len(lines[error.line - 1]) + 1
        assert str(error).startswith(f"{error.message} at {error.line}:{error.column}")
        return
    # Whatever compiles has a canonical form that compiles back to the same rule, and runs.
    assert compile_rule(str(rule)) == rule
    empty = pd.DataFrame({name: [None] for name in rule.fields})
    assert rule.evaluate_frame(empty).tolist() == [rule.evaluate({})]


@settings(max_examples=1500, deadline=None)
@given(text=st.text(max_size=120))
def test_arbitrary_text_compiles_or_raises_rule_error(text: str) -> None:
    assert_compiles_or_rule_error(text)


@settings(max_examples=2500, deadline=None)
@given(text=TOKEN_SOUP)
def test_rule_shaped_text_compiles_or_raises_rule_error(text: str) -> None:
    assert_compiles_or_rule_error(text)


@settings(max_examples=50, deadline=None)
@given(depth=st.integers(0, 1000), opener=st.sampled_from(["(", "not ", "not(", "[", "'"]))
def test_deep_or_long_input_is_a_rule_error_not_a_crash(depth: int, opener: str) -> None:
    assert_compiles_or_rule_error(opener * depth + "orders_count = 1" + ")" * depth)
