"""The one error a custom segment rule raises: what went wrong, where, and a machine reason.

Reasons (stable strings the API and the dashboard can branch on): ``empty_rule``, ``too_long``,
``too_deep``, ``unexpected_character``, ``unterminated_string``, ``bad_escape``,
``invalid_number``, ``invalid_date``, ``unknown_unit``, ``unit_not_allowed``, ``unknown_field``,
``type_mismatch``, ``unsupported_operator``, ``empty_list``, ``unexpected_token``,
``trailing_input``.
"""

from __future__ import annotations

REASONS = frozenset(
    {
        "empty_rule",
        "too_long",
        "too_deep",
        "unexpected_character",
        "unterminated_string",
        "bad_escape",
        "invalid_number",
        "invalid_date",
        "unknown_unit",
        "unit_not_allowed",
        "unknown_field",
        "type_mismatch",
        "unsupported_operator",
        "empty_list",
        "unexpected_token",
        "trailing_input",
    }
)


class RuleError(ValueError):
    """A rule that cannot be compiled, with its 1-based line and column and a machine reason."""

    def __init__(
        self, message: str, line: int, column: int, reason: str, hint: str | None = None
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.reason = reason
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.message} at {self.line}:{self.column}"
        return f"{text} — {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[type[RuleError], tuple[str, int, int, str, str | None]]:
        # Keep the error picklable (Celery results, multiprocessing) despite the custom __init__.
        return (type(self), (self.message, self.line, self.column, self.reason, self.hint))

    def pointer(self, text: str) -> str:
        """Return the offending line of ``text`` with a caret under the error's column."""
        lines = text.split("\n")
        line = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        # Tabs stay tabs so the caret lines up in a terminal whatever the tab width.
        padding = "".join("\t" if char == "\t" else " " for char in line[: self.column - 1])
        return f"{line}\n{padding}^"

    def to_dict(self) -> dict[str, object]:
        """Return the error as the JSON shape the API answers with."""
        return {
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "hint": self.hint,
            "error": str(self),
        }
