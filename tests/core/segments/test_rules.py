"""The custom segment rule language: parsing, types, errors, evaluation and explanations."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from app.core.segments.rule_ast import And, Compare, Contains, InList, IsNull, Not, Or
from app.core.segments.rules import (
    MAX_NESTING_DEPTH,
    MAX_RULE_CHARS,
    RuleError,
    compile_rule,
    preview,
)


def cond(field: str, op: str, value: object, field_type: str = "int") -> Compare:
    return Compare(field, field_type, op, value)


A = cond("orders_count", "=", 1)
B = cond("r_score", "=", 2)
C = cond("f_score", "=", 3)


# --------------------------------------------------------------------------- parsing


def test_design_example_parses_into_a_conjunction_of_two_comparisons() -> None:
    rule = compile_rule("days_since_last_order <= 30 and orders_count >= 3")

    assert rule.expression == And(
        (cond("days_since_last_order", "<=", 30, "days"), cond("orders_count", ">=", 3))
    )
    assert rule.fields == {"days_since_last_order", "orders_count"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders_count = 1 or r_score = 2 and f_score = 3", Or((A, And((B, C))))),
        ("orders_count = 1 and r_score = 2 or f_score = 3", Or((And((A, B)), C))),
        ("not orders_count = 1 and r_score = 2", And((Not(A), B))),
        ("not orders_count = 1 or r_score = 2", Or((Not(A), B))),
        ("not (orders_count = 1 or r_score = 2)", Not(Or((A, B)))),
        ("(orders_count = 1 or r_score = 2) and f_score = 3", And((Or((A, B)), C))),
        ("not not orders_count = 1", Not(Not(A))),
        ("orders_count = 1 and r_score = 2 and f_score = 3", And((A, B, C))),
    ],
)
def test_not_binds_tighter_than_and_which_binds_tighter_than_or(text: str, expected) -> None:
    assert compile_rule(text).expression == expected


def test_keywords_are_case_insensitive_and_double_equals_means_equals() -> None:
    loud = compile_rule("NOT orders_count == 1 AND rfm_group IN ['loyal'] Or has_email IS NOT NULL")
    quiet = compile_rule("not orders_count = 1 and rfm_group in ['loyal'] or has_email is not null")

    assert loud == quiet
    assert str(loud) == "not orders_count = 1 and rfm_group in ['loyal'] or has_email is not null"


def test_rules_may_span_lines() -> None:
    rule = compile_rule("orders_count >= 3\n  and\n\tr_score = 5")

    assert rule.expression == And((cond("orders_count", ">=", 3), cond("r_score", "=", 5)))


def test_canonical_text_uses_minimal_parentheses_and_round_trips() -> None:
    text = "((orders_count=1) OR (r_score=2 and (f_score=3)))and not(has_email)"
    rule = compile_rule(text)

    assert rule.text == text
    assert str(rule) == (
        "(orders_count = 1 or r_score = 2 and f_score = 3) and not has_email = true"
    )
    assert compile_rule(str(rule)) == rule


def test_in_lists_accept_both_quote_styles_and_a_trailing_comma() -> None:
    rule = compile_rule("""rfm_group not in ["champions", 'loyal',]""")

    assert rule.expression == InList("rfm_group", "str", ("champions", "loyal"), negated=True)


def test_list_membership_can_be_written_either_way() -> None:
    contains = compile_rule("product_types contains 'Shoes'")
    in_field = compile_rule("'Shoes' in product_types")
    not_in_field = compile_rule("'Shoes' not in product_types")

    assert contains.expression == in_field.expression == Contains("product_types", "Shoes")
    assert not_in_field == compile_rule("product_types not contains 'Shoes'")
    assert str(not_in_field) == "product_types not contains 'Shoes'"


def test_string_escapes_are_decoded_and_re_escaped_canonically() -> None:
    rule = compile_rule(
        r"""top_vendor = 'Ben & Jerry\'s \\ "NYC"\n' or top_vendor = "say \"hi\"\t" """
    )

    first, second = rule.expression.operands
    assert first.value == 'Ben & Jerry\'s \\ "NYC"\n'
    assert second.value == 'say "hi"\t'
    assert compile_rule(str(rule)) == rule


def test_numbers_may_be_negative_or_decimal() -> None:
    rule = compile_rule("net_spent > -12.5 and aov <= 40")

    assert rule.expression == And(
        (cond("net_spent", ">", -12.5, "float"), cond("aov", "<=", 40, "float"))
    )


def test_a_bool_field_alone_means_true() -> None:
    assert compile_rule("accepts_marketing").expression == cond(
        "accepts_marketing", "=", True, "bool"
    )
    assert compile_rule("not has_email").expression == Not(cond("has_email", "=", True, "bool"))


def test_a_custom_field_table_replaces_the_profile_fields() -> None:
    fields = {"score": "float", "tags": "str_list"}

    rule = compile_rule("score > 0.5 and tags contains 'vip'", fields)

    assert rule.fields == {"score", "tags"}
    with pytest.raises(RuleError, match="unknown field 'orders_count'"):
        compile_rule("orders_count > 1", fields)


# --------------------------------------------------------------------------- units and dates


@pytest.mark.parametrize(
    ("literal", "days"),
    [
        ("30", 30),
        ("30d", 30),
        ("30 days", 30),
        ("1 day", 1),
        ("30D", 30),
        ("30 Days", 30),
        ("2w", 14),
        ("2 weeks", 14),
        ("1 week", 7),
        ("1.5w", 10.5),
        ("0.5 days", 0.5),
    ],
)
def test_days_fields_accept_day_and_week_units(literal: str, days: float) -> None:
    rule = compile_rule(f"days_since_last_order < {literal}")

    assert rule.expression == cond("days_since_last_order", "<", days, "days")


def test_units_work_inside_lists() -> None:
    rule = compile_rule("mean_days_between_orders in [1w, 30 days, 45]")

    assert rule.expression.values == (7, 30, 45)


@pytest.mark.parametrize(
    "text",
    [
        "last_order_at >= 2026-01-31",
        "last_order_at >= date('2026-01-31')",
        'last_order_at >= DATE("2026-01-31")',
    ],
)
def test_date_literals_in_either_form(text: str) -> None:
    assert compile_rule(text).expression == cond(
        "last_order_at", ">=", date(2026, 1, 31), "datetime"
    )


# --------------------------------------------------------------------------- errors


def error_of(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected", "reason"),
    [
        (
            "order_count > 1",
            "unknown field 'order_count' at 1:1 — did you mean 'orders_count'?",
            "unknown_field",
        ),
        (
            "orders_count > 1 and Days_since_last_ordr < 3",
            "unknown field 'Days_since_last_ordr' at 1:22 — did you mean 'days_since_last_order'?",
            "unknown_field",
        ),
        ("zzz = 1", "unknown field 'zzz' at 1:1", "unknown_field"),
        (
            "orders_count > 'abc'",
            "type mismatch: 'orders_count' is int but 'abc' is a string at 1:16"
            " — expected a number",
            "type_mismatch",
        ),
        (
            "rfm_group = 3",
            "type mismatch: 'rfm_group' is str but '3' is a number at 1:13"
            " — expected a quoted string",
            "type_mismatch",
        ),
        (
            "last_order_at > 30",
            "type mismatch: 'last_order_at' is datetime but '30' is a number at 1:17"
            " — expected a date like 2026-01-31",
            "type_mismatch",
        ),
        (
            "days_since_last_order > 2026-01-01",
            "type mismatch: 'days_since_last_order' is days but '2026-01-01' is a date at 1:25"
            " — expected a number of days",
            "type_mismatch",
        ),
        (
            "has_email = 'yes'",
            "type mismatch: 'has_email' is bool but 'yes' is a string at 1:13"
            " — expected true or false",
            "type_mismatch",
        ),
        (
            "rfm_group = champions",
            "bare word 'champions' where a quoted string is expected at 1:13"
            " — quote it: 'champions'",
            "type_mismatch",
        ),
        (
            "orders_count > f_score",
            "cannot compare field 'orders_count' with field 'f_score' at 1:16"
            " — compare 'orders_count' with a number",
            "type_mismatch",
        ),
        (
            "orders_count = null",
            "null cannot be compared at 1:16"
            " — write orders_count is null or orders_count is not null",
            "type_mismatch",
        ),
        (
            "orders_count >= 3d",
            "unit 'd' only applies to days fields; 'orders_count' is int at 1:18"
            " — write a plain number",
            "unit_not_allowed",
        ),
        (
            "total_spent > 3 weeks",
            "unit 'weeks' only applies to days fields; 'total_spent' is float at 1:17"
            " — write a plain number",
            "unit_not_allowed",
        ),
        (
            "days_since_last_order < 3months",
            "unknown unit 'months' at 1:26 — day units are d, day, days, w, week, weeks",
            "unknown_unit",
        ),
        (
            "rfm_group = 'loyal",
            "unterminated string at 1:13 — close it with '",
            "unterminated_string",
        ),
        (
            "orders_count > 1 and\nrfm_group = \"loyal' or r_score = 1",
            'unterminated string at 2:13 — close it with "',
            "unterminated_string",
        ),
        (
            "rfm_group = 'lo\\yal'",
            "unknown escape '\\y' in string at 1:16 — use \\\\ \\' \\\" \\n \\t or \\r",
            "bad_escape",
        ),
        (
            "orders_count > 1 and and r_score = 1",
            "unexpected 'and' at 1:22 — expected a field name, 'not' or '('",
            "unexpected_token",
        ),
        (
            "orders_count 3",
            "unexpected '3' at 1:14 — expected an operator after 'orders_count'"
            " (=, !=, <, <=, >, >=, in [...], is null)",
            "unexpected_token",
        ),
        (
            "orders_count >",
            "unexpected end of rule at 1:15 — expected a number for 'orders_count'",
            "unexpected_token",
        ),
        (
            "(orders_count > 1",
            "unexpected end of rule at 1:18 — expected ')' to close the '(' at 1:1",
            "unexpected_token",
        ),
        (
            "orders_count > 1 r_score = 2",
            "unexpected 'r_score' after a complete rule at 1:18"
            " — join conditions with 'and' or 'or'",
            "trailing_input",
        ),
        (
            "orders_count > 1)",
            "unexpected ')' after a complete rule at 1:17 — this ')' has no matching '('",
            "trailing_input",
        ),
        (
            "orders_count > 1 && r_score = 2",
            "unexpected character '&' at 1:18 — write 'and'",
            "unexpected_character",
        ),
        ("orders_count ≥ 1", "unexpected character '≥' at 1:14", "unexpected_character"),
        (
            "3 < orders_count",
            "unexpected '3' at 1:1 — put the field first, as in orders_count >= 3",
            "unexpected_token",
        ),
        (
            "rfm_group = 'loyal\\",
            "unterminated string at 1:13 — close it with '",
            "unterminated_string",
        ),
        ("", "empty rule at 1:1 — write a condition such as orders_count >= 3", "empty_rule"),
        ("  \n ", "empty rule at 1:1 — write a condition such as orders_count >= 3", "empty_rule"),
        (
            "last_order_at < 2026-02-30",
            "invalid date '2026-02-30' at 1:17"
            " — write YYYY-MM-DD between 1900-01-01 and 2199-12-31",
            "invalid_date",
        ),
        (
            "last_order_at < 2026-1-5",
            "invalid date '2026-1-5' at 1:17 — write YYYY-MM-DD between 1900-01-01 and 2199-12-31",
            "invalid_date",
        ),
        (
            "last_order_at < date('31/01/2026')",
            "invalid date '31/01/2026' at 1:22 — write 'YYYY-MM-DD'",
            "invalid_date",
        ),
        (
            "orders_count > 10000000000000000",
            "number 10000000000000000 is out of range at 1:16 — numbers must be within ±1e+15",
            "invalid_number",
        ),
        ("aov > 1.", "invalid number '1.' at 1:8", "invalid_number"),
        (
            "rfm_group < 'b'",
            "operator '<' is not defined for str field 'rfm_group' at 1:11"
            " — use =, !=, in [...], is null",
            "unsupported_operator",
        ),
        (
            "product_types = 'Shoes'",
            "operator '=' is not defined for str_list field 'product_types' at 1:15"
            " — use product_types contains 'x'",
            "unsupported_operator",
        ),
        (
            "product_types in ['Shoes']",
            "'in [...]' is not defined for str_list field 'product_types' at 1:15"
            " — test one item with product_types contains 'x'",
            "unsupported_operator",
        ),
        (
            "rfm_group contains 'loy'",
            "'contains' needs a list field; 'rfm_group' is str at 1:11 — use rfm_group = '...'",
            "unsupported_operator",
        ),
        (
            "'loyal' in rfm_group",
            "'in' needs a list field on its right; 'rfm_group' is str at 1:12"
            " — write rfm_group = 'loyal'",
            "unsupported_operator",
        ),
        ("rfm_group in []", "empty list at 1:15 — list at least one value", "empty_list"),
        (
            "rfm_group in ['a' 'b']",
            "unexpected 'b' at 1:19 — expected ',' or ']' in the list",
            "unexpected_token",
        ),
        (
            "orders_count is 3",
            "unexpected '3' at 1:17 — expected 'null' after 'is'",
            "unexpected_token",
        ),
    ],
)
def test_each_error_names_the_problem_position_and_fix(
    text: str, expected: str, reason: str
) -> None:
    error = error_of(text)

    assert str(error) == expected
    assert error.reason == reason


def test_error_carries_its_parts_and_survives_pickling() -> None:
    error = error_of("orders_count > 1 and\n  order_count < 5")

    assert (error.message, error.line, error.column, error.reason) == (
        "unknown field 'order_count'",
        2,
        3,
        "unknown_field",
    )
    assert error.to_dict()["hint"] == "did you mean 'orders_count'?"
    assert isinstance(error, ValueError)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_error_pointer_marks_the_column_on_the_offending_line() -> None:
    text = "orders_count > 1 and\n\trfm_group = loyal"

    error = error_of(text)

    assert error.pointer(text) == "\trfm_group = loyal\n\t            ^"


def test_too_long_rules_are_refused_past_the_limit() -> None:
    at_limit = "orders_count = 1".ljust(MAX_RULE_CHARS)

    assert compile_rule(at_limit).expression == A
    error = error_of(at_limit + " ")
    assert error.reason == "too_long"
    assert (error.line, error.column) == (1, MAX_RULE_CHARS + 1)


def test_nesting_is_capped_at_the_token_that_goes_too_deep() -> None:
    depth_ok = "(" * MAX_NESTING_DEPTH + "orders_count = 1" + ")" * MAX_NESTING_DEPTH
    too_deep = "not " * (MAX_NESTING_DEPTH + 1) + "orders_count = 1"

    assert compile_rule(depth_ok).expression == A
    error = error_of(too_deep)
    assert error.reason == "too_deep"
    assert (error.line, error.column) == (1, 4 * MAX_NESTING_DEPTH + 1)


def test_pathological_nesting_within_the_length_cap_is_a_rule_error() -> None:
    assert error_of("(" * 1980 + "orders_count = 1").reason == "too_deep"
    assert error_of("[" * 1999).reason == "unexpected_token"


# --------------------------------------------------------------------------- evaluation

MAY = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)

ALICE = {
    "orders_count": 4,
    "days_since_last_order": 12,
    "total_spent": 250.0,
    "rfm_group": "loyal",
    "product_types": ["Shoes", "Hats"],
    "last_order_at": MAY,
    "accepts_marketing": True,
}
NOBODY = {
    "orders_count": None,
    "days_since_last_order": float("nan"),
    "total_spent": None,
    "rfm_group": None,
    "product_types": None,
    "last_order_at": None,
    "accepts_marketing": None,
}


def frame_of(*profiles: dict) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(profiles))
    if "last_order_at" in frame:
        frame["last_order_at"] = pd.to_datetime(frame["last_order_at"], utc=True)
    return frame


def both(text: str, *profiles: dict) -> list[bool]:
    """Evaluate per customer and vectorised, check they agree, return the outcomes."""
    rule = compile_rule(text)
    single = [rule.evaluate(profile) for profile in profiles]
    assert rule.evaluate_frame(frame_of(*profiles)).tolist() == single
    return single


@pytest.mark.parametrize(
    ("text", "alice", "nobody"),
    [
        ("days_since_last_order <= 30 and orders_count >= 3", True, False),
        ("orders_count != 1", True, False),
        ("not orders_count = 1", True, True),
        ("rfm_group not in ['dormant']", True, False),
        ("not rfm_group in ['dormant']", True, True),
        ("product_types not contains 'Bags'", True, False),
        ("orders_count is null", False, True),
        ("orders_count is not null", True, False),
        (
            "product_types is null and last_order_at is null and days_since_last_order is null",
            False,
            True,
        ),
        ("accepts_marketing", True, False),
        ("accepts_marketing = false", False, False),
        ("total_spent > 249.99 and total_spent < 250.01", True, False),
    ],
)
def test_missing_values_fail_every_condition_except_is_null(
    text: str, alice: bool, nobody: bool
) -> None:
    assert both(text, ALICE, NOBODY) == [alice, nobody]


def test_absent_keys_and_absent_columns_count_as_missing() -> None:
    rule = compile_rule("value_tier is null and not value_tier = 'high'")

    assert rule.evaluate({}) is True
    assert rule.evaluate_frame(frame_of(ALICE)).tolist() == [True]


def test_strings_compare_exactly() -> None:
    assert both("rfm_group = 'loyal'", ALICE) == [True]
    assert both("rfm_group = 'Loyal'", ALICE) == [False]
    assert both("rfm_group in ['LOYAL', 'champions']", ALICE) == [False]
    assert both("product_types contains 'shoes'", ALICE) == [False]


def test_list_fields_accept_lists_tuples_sets_and_empty_lists() -> None:
    profiles = [
        {"product_types": ["Shoes"]},
        {"product_types": ("Hats", "Shoes")},
        {"product_types": {"Shoes", "Bags"}},
        {"product_types": []},
        {"product_types": None},
    ]

    assert both("product_types contains 'Shoes'", *profiles) == [True, True, True, False, False]
    assert both("'Shoes' not in product_types", *profiles) == [False, False, False, True, False]
    assert both("product_types is null", *profiles) == [False, False, False, False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last_order_at = 2026-05-01", True),
        ("last_order_at <= 2026-05-01", True),
        ("last_order_at < 2026-05-01", False),
        ("last_order_at > 2026-04-30", True),
        ("last_order_at > 2026-05-01", False),
        ("last_order_at in [2026-01-01, 2026-05-01]", True),
    ],
)
def test_datetimes_compare_by_utc_calendar_date(text: str, expected: bool) -> None:
    assert both(text, ALICE) == [expected]


def test_other_timezones_are_converted_to_utc_before_taking_the_date() -> None:
    # 2026-05-02 01:30 in UTC+02:00 is still 2026-05-01 in UTC.
    east = {"last_order_at": datetime(2026, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))}

    assert both("last_order_at = 2026-05-01", east) == [True]


def test_evaluate_frame_keeps_the_frame_index_and_accepts_nullable_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "orders_count": pd.array([5, None, 1], dtype="Int64"),
            "accepts_marketing": pd.array([True, None, False], dtype="boolean"),
            "rfm_group": pd.array(["loyal", None, "new"], dtype="string"),
        },
        index=["c-3", "c-1", "c-2"],
    )
    rule = compile_rule("orders_count > 2 and accepts_marketing or rfm_group = 'new'")

    result = rule.evaluate_frame(frame)

    assert result.dtype == np.bool_
    assert result.to_dict() == {"c-3": True, "c-1": False, "c-2": True}


def test_evaluate_frame_on_an_empty_frame_is_empty() -> None:
    rule = compile_rule("product_types contains 'x' and orders_count > 1")

    assert rule.evaluate_frame(pd.DataFrame({"product_types": [], "orders_count": []})).empty


# --------------------------------------------------------------------------- explanations


def test_explanation_shows_the_actual_values_of_a_match() -> None:
    rule = compile_rule("days_since_last_order <= 30 and orders_count >= 3")

    assert rule.explain(ALICE) == "days_since_last_order 12 <= 30 and orders_count 4 >= 3"


def test_explanation_of_an_or_names_only_the_branches_that_matched() -> None:
    rule = compile_rule(
        "rfm_group = 'champions' or (product_types contains 'Shoes' and total_spent > 100)"
    )

    assert rule.explain(ALICE) == (
        "product_types ['Shoes', 'Hats'] contains 'Shoes' and total_spent 250 > 100"
    )


def test_explanation_of_a_miss_names_the_failing_conditions() -> None:
    rule = compile_rule("orders_count >= 3 and last_order_at >= 2026-06-01 and rfm_group = 'loyal'")

    assert rule.explain(ALICE) == "no match: last_order_at 2026-05-01 >= 2026-06-01"
    assert rule.explain(NOBODY) == (
        "no match: orders_count (missing) >= 3 and last_order_at (missing) >= 2026-06-01"
        " and rfm_group (missing) = 'loyal'"
    )


def test_explanation_keeps_negation_and_grouping_readable() -> None:
    rule = compile_rule(
        "not (rfm_group = 'dormant' or days_since_last_order > 90) and accepts_marketing"
    )

    assert rule.explain(ALICE) == (
        "not (rfm_group 'loyal' = 'dormant' or days_since_last_order 12 > 90)"
        " and accepts_marketing true = true"
    )


def test_explanation_rounds_money_and_shares() -> None:
    rule = compile_rule("aov > 10 and p_alive > 0.5")

    assert (
        rule.explain({"aov": 33.3333, "p_alive": 0.87654})
        == "aov 33.33 > 10 and p_alive 0.877 > 0.5"
    )


# --------------------------------------------------------------------------- preview


def test_preview_counts_and_samples_the_first_ids_in_index_order() -> None:
    frame = pd.DataFrame(
        {"orders_count": [5, 1, 7, 3, None]}, index=pd.Index([40, 10, 30, 20, 50], name="id")
    )

    result = preview(compile_rule("orders_count >= 3"), frame, sample_size=2)

    assert result == {
        "rule": "orders_count >= 3",
        "count": 3,
        "total": 5,
        "share": 0.6,
        "sample": [20, 30],
    }
    assert all(type(item) is int for item in result["sample"])


def test_preview_accepts_rule_text_and_an_empty_store() -> None:
    result = preview("orders_count >= 3", pd.DataFrame({"orders_count": []}))

    assert result == {
        "rule": "orders_count >= 3",
        "count": 0,
        "total": 0,
        "share": 0.0,
        "sample": [],
    }


def test_preview_rejects_bad_rule_text_with_rule_error() -> None:
    with pytest.raises(RuleError, match="did you mean 'orders_count'"):
        preview("order_count >= 3", pd.DataFrame({"orders_count": [1]}))


def test_rules_are_immutable_values() -> None:
    rule = compile_rule("orders_count >= 3")

    with pytest.raises(AttributeError):
        rule.text = "other"  # type: ignore[misc]
    assert rule == compile_rule("ORDERS_COUNT >= 3".lower())
    assert hash(rule) == hash(compile_rule("orders_count>=3"))
    assert IsNull("x", "int") != IsNull("x", "int", negated=True)
