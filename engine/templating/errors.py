"""L1 pure core: the one error type every templating failure is reported with."""
from __future__ import annotations

_MAX_QUOTE = 300


def quote_expression(text: str) -> str:
    """The expression as users see it in a message, shortened when it is huge."""
    if len(text) <= _MAX_QUOTE:
        return text
    return text[:_MAX_QUOTE] + "…"


class ExpressionError(ValueError):
    """A template could not be parsed or evaluated.

    The message says what failed, quotes the expression and, when known, where
    (line and column in the template), so that a flow author can fix the YAML.
    """

    def __init__(self, message: str, *, expression: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.reason = message
        self.expression = expression
        self.line = line
        self.column = column
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = self.reason
        if self.expression is not None and "used in the expression" not in text:
            text += f" in the expression `{quote_expression(self.expression)}`"
        if self.line is not None:
            text += f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        return text
