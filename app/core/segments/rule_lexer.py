"""Turn rule text into tokens, each carrying its 1-based line and column for error messages."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from app.core.segments.rule_errors import RuleError

MAX_RULE_CHARS = 2_000
# Literals beyond this magnitude are almost certainly typos, and past 2**53 floats stop being
# exact, which would let the per-customer and the vectorised evaluators disagree.
MAX_NUMBER_MAGNITUDE = 1e15
# Datetime columns are nanosecond pandas timestamps (1677–2262); keep literals well inside.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "contains", "date"})
# Day units for ``days`` fields; a week is seven days.
DAY_UNITS: dict[str, int] = {"d": 1, "day": 1, "days": 1, "w": 7, "week": 7, "weeks": 7}

# Token kinds.
IDENT = "identifier"
KEYWORD = "keyword"
NUMBER = "number"
UNIT = "unit"  # a unit glued to its number, as in ``30d``
STRING = "string"
DATE = "date"
OP = "operator"
PUNCT = "punctuation"
EOF = "end of rule"

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE_LIKE_RE = re.compile(r"[0-9]+-[0-9]+-[0-9]+")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_OPERATORS = ("<=", ">=", "!=", "==", "<", ">", "=")
_PUNCTUATION = "()[],"
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
# Characters people bring from other languages, and what to write instead.
_FOREIGN_HINTS = {
    "&": "write 'and'",
    "|": "write 'or'",
    "!": "write 'not' or '!='",
    "{": "lists use square brackets: [1, 2]",
}


_Fail = Callable[..., RuleError]
_Add = Callable[[str, object, int, int], None]


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme: its kind, its value (decoded), its source text and where it starts."""

    kind: str
    value: object
    text: str
    line: int
    column: int

    def describe(self) -> str:
        """Name the token the way an error message should quote it."""
        if self.kind == EOF:
            return "end of rule"
        return self.text if self.kind == STRING else repr(self.text)


class _Positions:
    """Map character offsets to 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def at(self, offset: int) -> tuple[int, int]:
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1


def position_of(text: str, offset: int) -> tuple[int, int]:
    """Return the 1-based (line, column) of a character offset in ``text``."""
    return _Positions(text).at(offset)


def parse_iso_date(text: str) -> date | None:
    """Return the date written as strict ``YYYY-MM-DD`` within the allowed range, else None."""
    match = _DATE_RE.fullmatch(text)
    if not match:
        return None
    try:
        value = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


def tokenize(text: str) -> list[Token]:
    """Split rule text into tokens ending with an EOF token; raise RuleError on bad input."""
    positions = _Positions(text)

    def fail(offset: int, message: str, reason: str, hint: str | None = None) -> RuleError:
        line, column = positions.at(offset)
        return RuleError(message, line, column, reason, hint)

    if len(text) > MAX_RULE_CHARS:
        raise fail(MAX_RULE_CHARS, f"rule is longer than {MAX_RULE_CHARS} characters", "too_long")

    tokens: list[Token] = []

    def add(kind: str, value: object, start: int, end: int) -> None:
        line, column = positions.at(start)
        tokens.append(Token(kind, value, text[start:end], line, column))

    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _PUNCTUATION:
            add(PUNCT, char, i, i + 1)
            i += 1
        elif char in "'\"":
            value, end = _read_string(text, i, fail)
            add(STRING, value, i, end)
            i = end
        elif _NUMBER_RE.match(text, i):
            i = _read_number_or_date(text, i, add, fail)
        elif _IDENT_RE.match(text, i):
            match = _IDENT_RE.match(text, i)
            assert match is not None
            word = match.group()
            if word.lower() in KEYWORDS:
                add(KEYWORD, word.lower(), i, match.end())
            else:
                add(IDENT, word, i, match.end())
            i = match.end()
        elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            add(OP, "=" if op == "==" else op, i, i + len(op))
            i += len(op)
        else:
            raise fail(
                i,
                f"unexpected character {char!r}",
                "unexpected_character",
                _FOREIGN_HINTS.get(char),
            )
    line, column = positions.at(len(text))
    tokens.append(Token(EOF, None, "", line, column))
    return tokens


def _read_string(text: str, start: int, fail: _Fail) -> tuple[str, int]:
    """Decode the quoted string opening at ``start``; return (value, offset after the quote)."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(parts), i + 1
        if char == "\n":
            break
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped in ("", "\n"):
                break  # a backslash at the end of the line leaves the string open
            if escaped not in _ESCAPES:
                raise fail(
                    i,
                    f"unknown escape '\\{escaped}' in string",
                    "bad_escape",
                    "use \\\\ \\' \\\" \\n \\t or \\r",
                )
            parts.append(_ESCAPES[escaped])
            i += 2
            continue
        parts.append(char)
        i += 1
    raise fail(start, "unterminated string", "unterminated_string", f"close it with {quote}")


def _read_number_or_date(text: str, start: int, add: _Add, fail: _Fail) -> int:
    """Read a date, or a number with an optional glued unit; return the offset after it."""
    date_like = _DATE_LIKE_RE.match(text, start)
    if date_like and text[start] != "-":
        value = parse_iso_date(date_like.group())
        if value is None:
            raise fail(
                start,
                f"invalid date {date_like.group()!r}",
                "invalid_date",
                f"write YYYY-MM-DD between {MIN_DATE} and {MAX_DATE}",
            )
        add(DATE, value, start, date_like.end())
        return date_like.end()

    match = _NUMBER_RE.match(text, start)
    assert match is not None  # the caller saw a digit
    literal = match.group()
    number: int | float = float(literal) if "." in literal else int(literal)
    if abs(number) > MAX_NUMBER_MAGNITUDE:
        raise fail(
            start,
            f"number {literal} is out of range",
            "invalid_number",
            f"numbers must be within ±{MAX_NUMBER_MAGNITUDE:.0e}",
        )
    add(NUMBER, number, start, match.end())
    end = match.end()
    unit = _IDENT_RE.match(text, end)
    if unit:
        if unit.group().lower() not in DAY_UNITS:
            raise fail(
                end,
                f"unknown unit {unit.group()!r}",
                "unknown_unit",
                "day units are d, day, days, w, week, weeks",
            )
        add(UNIT, unit.group().lower(), end, unit.end())
        end = unit.end()
    elif text[end : end + 1] == ".":
        raise fail(end, f"invalid number {text[start : end + 1]!r}", "invalid_number")
    return end
