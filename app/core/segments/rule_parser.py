"""A recursive-descent parser and type checker for custom segment rules (never ``eval``).

Grammar (keywords case-insensitive, field names exact)::

    rule       := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | condition
    condition  := FIELD op value                       op: = == != < <= > >=
                | FIELD ["not"] "in" "[" value ("," value)* [","] "]"
                | FIELD "is" ["not"] "null"
                | FIELD ["not"] "contains" STRING       (str_list fields)
                | STRING ["not"] "in" FIELD             (str_list fields)
                | FIELD                                 (bool fields: same as FIELD = true)
    value      := NUMBER [unit] | STRING | DATE | "date" "(" STRING ")" | "true" | "false"
    unit       := d | day | days | w | week | weeks     (glued ``30d`` or spaced ``30 days``)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from app.core.segments.rule_ast import (
    COMPARISON_OPERATORS,
    NUMERIC_TYPES,
    ORDERING_OPERATORS,
    And,
    Compare,
    Contains,
    InList,
    IsNull,
    Literal,
    Node,
    Not,
    Or,
)
from app.core.segments.rule_errors import RuleError
from app.core.segments.rule_lexer import (
    DATE,
    DAY_UNITS,
    EOF,
    IDENT,
    KEYWORD,
    NUMBER,
    OP,
    PUNCT,
    STRING,
    UNIT,
    Token,
    parse_iso_date,
    tokenize,
)

FIELD_TYPES = frozenset({"int", "float", "days", "str", "datetime", "bool", "str_list"})
# Parentheses and ``not`` both nest; past this a rule is unreadable, and the cap keeps the
# recursive parser far from Python's recursion limit.
MAX_NESTING_DEPTH = 32

_TYPE_NAMES = {
    "int": "a number",
    "float": "a number",
    "days": "a number of days",
    "str": "a quoted string",
    "datetime": "a date like 2026-01-31",
    "bool": "true or false",
    "str_list": "a quoted string",
}


def parse_rule(text: str, fields: Mapping[str, str]) -> Node:
    """Parse and type-check rule text against a field table; raise RuleError when invalid."""
    unknown_types = {name: kind for name, kind in fields.items() if kind not in FIELD_TYPES}
    if unknown_types:
        raise ValueError(f"field table has unsupported types: {unknown_types}")
    tokens = tokenize(text)
    if tokens[0].kind == EOF:
        raise RuleError(
            "empty rule", 1, 1, "empty_rule", "write a condition such as orders_count >= 3"
        )
    return _Parser(tokens, fields).parse()


class _Parser:
    def __init__(self, tokens: list[Token], fields: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.fields = fields
        self.index = 0
        self.depth = 0

    # ------------------------------------------------------------------ token helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        if token.kind != EOF:
            self.index += 1
        return token

    def at_keyword(self, *words: str, token: Token | None = None) -> bool:
        token = token or self.current
        return token.kind == KEYWORD and token.value in words

    def at_punct(self, char: str) -> bool:
        return self.current.kind == PUNCT and self.current.value == char

    def expect_punct(self, char: str, context: str) -> Token:
        if not self.at_punct(char):
            raise self.unexpected(f"expected '{char}' {context}")
        return self.advance()

    def error(self, token: Token, message: str, reason: str, hint: str | None = None) -> RuleError:
        return RuleError(message, token.line, token.column, reason, hint)

    def unexpected(self, expectation: str, token: Token | None = None) -> RuleError:
        token = token or self.current
        return self.error(token, f"unexpected {token.describe()}", "unexpected_token", expectation)

    # ------------------------------------------------------------------ grammar

    def parse(self) -> Node:
        node = self.or_expr()
        if self.current.kind != EOF:
            token = self.current
            hint = "join conditions with 'and' or 'or'"
            if token.kind == PUNCT and token.value == ")":
                hint = "this ')' has no matching '('"
            message = f"unexpected {token.describe()} after a complete rule"
            raise self.error(token, message, "trailing_input", hint)
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.at_keyword("or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.at_keyword("and"):
            self.advance()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr(self) -> Node:
        if self.at_keyword("not") or self.at_punct("("):
            opener = self.current
            self.depth += 1
            if self.depth > MAX_NESTING_DEPTH:
                raise self.error(
                    opener,
                    f"rule nests deeper than {MAX_NESTING_DEPTH} levels",
                    "too_deep",
                    "simplify the rule",
                )
            self.advance()
            if opener.kind == KEYWORD:
                node: Node = Not(self.not_expr())
            else:
                node = self.or_expr()
                self.expect_punct(")", f"to close the '(' at {opener.line}:{opener.column}")
            self.depth -= 1
            return node
        return self.condition()

    def condition(self) -> Node:
        token = self.current
        if token.kind == STRING:
            return self.membership_in_list_field()
        if token.kind in {NUMBER, DATE} or self.at_keyword("true", "false", "null"):
            raise self.unexpected("put the field first, as in orders_count >= 3")
        if token.kind != IDENT:
            raise self.unexpected("expected a field name, 'not' or '('")
        name, field_type = self.field()
        after = self.current

        if after.kind == OP:
            self.advance()
            return self.comparison(name, field_type, after)
        if self.at_keyword("is"):
            self.advance()
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            if not self.at_keyword("null"):
                raise self.unexpected("expected 'null' after 'is'")
            self.advance()
            return IsNull(name, field_type, negated)
        if self.at_keyword("in") or (
            self.at_keyword("not") and self.at_keyword("in", token=self.peek())
        ):
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            self.advance()
            if field_type == "str_list":
                raise self.error(
                    after,
                    f"'in [...]' is not defined for {field_type} field '{name}'",
                    "unsupported_operator",
                    f"test one item with {name} contains 'x'",
                )
            return InList(name, field_type, self.literal_list(name, field_type), negated)
        if self.at_keyword("contains") or (
            self.at_keyword("not") and self.at_keyword("contains", token=self.peek())
        ):
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            self.advance()
            if field_type != "str_list":
                raise self.error(
                    after,
                    f"'contains' needs a list field; '{name}' is {field_type}",
                    "unsupported_operator",
                    f"use {name} = ..." if field_type != "str" else f"use {name} = '...'",
                )
            value_token = self.current
            if value_token.kind != STRING:
                raise self.type_mismatch(name, field_type, value_token)
            self.advance()
            return Contains(name, str(value_token.value), negated)
        if field_type == "bool":
            return Compare(name, field_type, "=", True)
        raise self.unexpected(
            f"expected an operator after '{name}' ({_operators_for(field_type)})", after
        )

    def membership_in_list_field(self) -> Node:
        value_token = self.advance()
        negated = self.at_keyword("not")
        if negated:
            self.advance()
        if not self.at_keyword("in"):
            raise self.unexpected("a string on the left must be followed by 'in' and a list field")
        self.advance()
        if self.current.kind != IDENT:
            raise self.unexpected("expected a list field name after 'in'")
        name_token = self.current
        name, field_type = self.field()
        if field_type != "str_list":
            raise self.error(
                name_token,
                f"'in' needs a list field on its right; '{name}' is {field_type}",
                "unsupported_operator",
                f"write {name} = {value_token.text}",
            )
        return Contains(name, str(value_token.value), negated)

    def field(self) -> tuple[str, str]:
        token = self.advance()
        name = str(token.value)
        if name in self.fields:
            return name, self.fields[name]
        match = difflib.get_close_matches(name.lower(), list(self.fields), n=1, cutoff=0.6)
        hint = f"did you mean '{match[0]}'?" if match else None
        raise self.error(token, f"unknown field '{name}'", "unknown_field", hint)

    def comparison(self, name: str, field_type: str, op_token: Token) -> Node:
        op = str(op_token.value)
        assert op in COMPARISON_OPERATORS
        if field_type == "str_list":
            raise self.error(
                op_token,
                f"operator '{op_token.text}' is not defined for {field_type} field '{name}'",
                "unsupported_operator",
                f"use {name} contains 'x'",
            )
        if op in ORDERING_OPERATORS and field_type in {"str", "bool"}:
            raise self.error(
                op_token,
                f"operator '{op}' is not defined for {field_type} field '{name}'",
                "unsupported_operator",
                f"use {_operators_for(field_type)}",
            )
        return Compare(name, field_type, op, self.literal(name, field_type))

    def literal_list(self, name: str, field_type: str) -> tuple[Literal, ...]:
        self.expect_punct("[", "to open the list after 'in'")
        values: list[Literal] = []
        while not self.at_punct("]"):
            values.append(self.literal(name, field_type))
            if self.at_punct(","):
                self.advance()
            elif not self.at_punct("]"):
                raise self.unexpected("expected ',' or ']' in the list")
        if not values:
            raise self.error(self.current, "empty list", "empty_list", "list at least one value")
        self.advance()
        return tuple(values)

    def literal(self, name: str, field_type: str) -> Literal:
        token = self.current
        if token.kind == NUMBER and field_type in NUMERIC_TYPES:
            self.advance()
            return self.with_unit(token, name, field_type)
        if token.kind == STRING and field_type == "str":
            self.advance()
            return str(token.value)
        if token.kind == DATE and field_type == "datetime":
            self.advance()
            return token.value  # type: ignore[return-value]
        if self.at_keyword("date") and field_type == "datetime":
            return self.date_call()
        if self.at_keyword("true", "false") and field_type == "bool":
            self.advance()
            return token.value == "true"
        raise self.type_mismatch(name, field_type, token)

    def with_unit(self, number: Token, name: str, field_type: str) -> Literal:
        value = number.value
        assert isinstance(value, int | float)
        unit = self.current
        glued = unit.kind == UNIT
        spaced = unit.kind == IDENT and str(unit.value).lower() in DAY_UNITS
        if not (glued or spaced):
            return value
        if field_type != "days":
            raise self.error(
                unit,
                f"unit '{unit.text}' only applies to days fields; '{name}' is {field_type}",
                "unit_not_allowed",
                "write a plain number",
            )
        self.advance()
        return value * DAY_UNITS[str(unit.value).lower()]

    def date_call(self) -> Literal:
        self.advance()
        self.expect_punct("(", "after 'date'")
        token = self.current
        if token.kind != STRING:
            raise self.unexpected("expected a quoted date like date('2026-01-31')")
        value = parse_iso_date(str(token.value))
        if value is None:
            raise self.error(
                token, f"invalid date {token.text}", "invalid_date", "write 'YYYY-MM-DD'"
            )
        self.advance()
        self.expect_punct(")", "to close date(...)")
        return value

    def type_mismatch(self, name: str, field_type: str, token: Token) -> RuleError:
        if token.kind == EOF or (token.kind == PUNCT and token.value in ")],"):
            return self.unexpected(f"expected {_TYPE_NAMES[field_type]} for '{name}'", token)
        if self.at_keyword("null", token=token):
            return self.error(
                token,
                "null cannot be compared",
                "type_mismatch",
                f"write {name} is null or {name} is not null",
            )
        if token.kind == IDENT:
            if token.value in self.fields:
                return self.error(
                    token,
                    f"cannot compare field '{name}' with field '{token.value}'",
                    "type_mismatch",
                    f"compare '{name}' with {_TYPE_NAMES[field_type]}",
                )
            if field_type in {"str", "str_list"}:
                return self.error(
                    token,
                    f"bare word {token.describe()} where {_TYPE_NAMES[field_type]} is expected",
                    "type_mismatch",
                    f"quote it: '{token.text}'",
                )
        is_value_keyword = self.at_keyword("true", "false", "date", token=token)
        if token.kind in {OP, KEYWORD} and not is_value_keyword:
            return self.unexpected(f"expected {_TYPE_NAMES[field_type]} for '{name}'", token)
        shown = f"{token.describe()} is {_kind_name(token)}"
        return self.error(
            token,
            f"type mismatch: '{name}' is {field_type} but {shown}",
            "type_mismatch",
            f"expected {_TYPE_NAMES[field_type]}",
        )


def _kind_name(token: Token) -> str:
    if token.kind == KEYWORD and token.value in {"true", "false"}:
        return "a bool"
    return {
        NUMBER: "a number",
        STRING: "a string",
        DATE: "a date",
        IDENT: "a bare word",
        KEYWORD: "a keyword",
    }.get(token.kind, "not a value")


def _operators_for(field_type: str) -> str:
    if field_type in {"str", "bool"}:
        return "=, !=, in [...], is null"
    if field_type == "str_list":
        return "contains, is null"
    return "=, !=, <, <=, >, >=, in [...], is null"
