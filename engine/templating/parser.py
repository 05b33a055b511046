"""L1 pure core: a precedence-climbing parser for Pebble expressions.

Operator precedences are Pebble 3.2's (`CoreExtension`) plus Kestra's `??`/`???` (120).
A few consequences users notice: unary `not` binds tighter than `==` (as in Pebble),
`~` binds tighter than `|`, and `??` binds tighter than both.
"""
from __future__ import annotations

from engine.templating import nodes as n
from engine.templating.errors import ExpressionError
from engine.templating.lexer import Token, line_col, tokenize, unquote

BINARY_PRECEDENCE = {
    "or": 10, "and": 15, "is": 20, "is not": 20, "contains": 20, "isIn": 20, "notIn": 20,
    "==": 30, "equals": 30, "!=": 30, ">": 30, "<": 30, ">=": 30, "<=": 30,
    "+": 40, "-": 40, "*": 60, "/": 60, "%": 60, "|": 100, "~": 110, "..": 120,
    "??": 120, "???": 120,
}
UNARY_PRECEDENCE = 500
_CONSTANTS = {"true": True, "TRUE": True, "false": False, "FALSE": False,
              "null": None, "NULL": None, "none": None, "NONE": None}


class Parser:
    """Parses the tokens of one expression into a `nodes` tree."""

    def __init__(self, body: str, offset: int, template: str) -> None:
        self.template = template
        self.tokens = tokenize(body, offset, template)
        self.index = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at(self, value: str, kind: str | None = None) -> bool:
        token = self.current
        return token.value == value and (kind is None or token.kind == kind) and token.kind != "string"

    def expect(self, value: str) -> Token:
        if not self.at(value):
            raise self.error(f"Expected `{value}` but found {self.describe(self.current)}")
        return self.advance()

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        line, column = line_col(self.template, (token or self.current).pos)
        return ExpressionError(message, expression=self.template, line=line, column=column)

    @staticmethod
    def describe(token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else f"`{token.value}`"

    # -- entry points --------------------------------------------------------------------
    def parse(self) -> n.Node:
        """The whole token stream as one expression."""
        if self.current.kind == "end":
            raise self.error("Empty expression: write something between the delimiters")
        node = self.expression()
        self.expect_end()
        return node

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise self.error(f"Unexpected {self.describe(self.current)} after a complete expression")

    # -- expressions ---------------------------------------------------------------------
    def expression(self, min_precedence: int = 0) -> n.Node:
        node = self.unary_or_primary()
        while True:
            operator = self.binary_operator()
            if operator is None or BINARY_PRECEDENCE[operator] < min_precedence:
                break
            node = self.binary_tail(operator, node)
        if min_precedence == 0 and self.at("?", "punct"):
            node = self.ternary(node)
        return node

    def unary_or_primary(self) -> n.Node:
        token = self.current
        if (token.kind == "name" and token.value == "not") or (token.kind == "op" and token.value in "+-"):
            self.advance()
            return n.Unary(token.pos, token.value, self.expression(UNARY_PRECEDENCE))
        return self.postfix(self.primary())

    def binary_operator(self) -> str | None:
        token = self.current
        if token.kind == "op" and token.value in BINARY_PRECEDENCE:
            return token.value
        if token.kind == "punct" and token.value == "|":
            return "|"
        if token.kind == "name" and token.value in BINARY_PRECEDENCE:
            if token.value == "is" and self.peek().kind == "name" and self.peek().value == "not":
                return "is not"
            return token.value
        return None

    def binary_tail(self, operator: str, left: n.Node) -> n.Node:
        token = self.advance()
        if operator == "is not":
            self.advance()
        if operator == "|":
            return self.filter_call(left)
        if operator in ("is", "is not"):
            return self.test_call(left, negated=operator == "is not")
        right = self.expression(BINARY_PRECEDENCE[operator] + 1)
        return n.Binary(token.pos, operator, left, right)

    def ternary(self, cond: n.Node) -> n.Node:
        token = self.advance()
        then = self.expression()
        self.expect(":")
        return n.Ternary(token.pos, cond, then, self.expression())

    def filter_call(self, value: n.Node) -> n.Node:
        name = self.name_token("a filter name after `|`")
        args, kwargs = self.arguments() if self.at("(", "punct") else ((), ())
        return n.Filter(name.pos, value, name.value, args, kwargs)

    def test_call(self, value: n.Node, negated: bool) -> n.Node:
        name = self.name_token("a test name after `is` (defined, null, empty, ...)")
        args = self.arguments()[0] if self.at("(", "punct") else ()
        return n.Test(name.pos, value, name.value, negated, args)

    def name_token(self, what: str) -> Token:
        if self.current.kind != "name":
            raise self.error(f"Expected {what} but found {self.describe(self.current)}")
        return self.advance()

    # -- primaries -----------------------------------------------------------------------
    def primary(self) -> n.Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return n.Literal(token.pos, _number(token.value))
        if token.kind == "string":
            self.advance()
            return self.string(token)
        if token.kind == "name":
            return self.name_or_call()
        if self.at("(", "punct"):
            self.advance()
            node = self.expression()
            self.expect(")")
            return node
        if self.at("[", "punct"):
            return self.list_literal()
        if self.at("{", "punct"):
            return self.map_literal()
        raise self.error(f"Unexpected {self.describe(token)}: expected a value, a variable or a function call")

    def name_or_call(self) -> n.Node:
        token = self.advance()
        if token.value in _CONSTANTS:
            return n.Literal(token.pos, _CONSTANTS[token.value])
        if token.value[0].isdigit():
            raise self.error(f"`{token.value}` is not a valid name", token)
        if self.at("(", "punct"):
            args, kwargs = self.arguments()
            return n.Call(token.pos, n.Name(token.pos, token.value), args, kwargs)
        return n.Name(token.pos, token.value)

    def list_literal(self) -> n.Node:
        start = self.advance()
        items: list[n.Node] = []
        while not self.at("]", "punct"):
            items.append(self.expression())
            if not self.at("]", "punct"):
                self.expect(",")
        self.advance()
        return n.ListLit(start.pos, tuple(items))

    def map_literal(self) -> n.Node:
        start = self.advance()
        pairs: list[tuple[n.Node, n.Node]] = []
        while not self.at("}", "punct"):
            key = self.expression()
            self.expect(":")
            pairs.append((key, self.expression()))
            if not self.at("}", "punct"):
                self.expect(",")
        self.advance()
        return n.MapLit(start.pos, tuple(pairs))

    def arguments(self) -> tuple[tuple[n.Node, ...], tuple[tuple[str, n.Node], ...]]:
        self.expect("(")
        args: list[n.Node] = []
        kwargs: list[tuple[str, n.Node]] = []
        while not self.at(")", "punct"):
            if self.current.kind == "name" and self.peek().kind == "punct" and self.peek().value == "=":
                name = self.advance().value
                self.advance()
                kwargs.append((name, self.expression()))
            elif kwargs:
                raise self.error("A positional argument cannot follow a named argument")
            else:
                args.append(self.expression())
            if not self.at(")", "punct"):
                self.expect(",")
        self.advance()
        return tuple(args), tuple(kwargs)

    # -- postfix: .attr, [key], method calls -----------------------------------------------
    def postfix(self, node: n.Node) -> n.Node:
        while True:
            if self.at(".", "punct"):
                node = self.dotted(node)
            elif self.at("[", "punct"):
                start = self.advance()
                key = self.expression()
                self.expect("]")
                if isinstance(key, n.Literal) and isinstance(key.value, str):
                    node = n.Attr(start.pos, node, key.value)
                else:
                    node = n.Item(start.pos, node, key)
            else:
                return node

    def dotted(self, node: n.Node) -> n.Node:
        dot = self.advance()
        token = self.current
        if token.kind == "number" and token.value.isdigit():
            self.advance()
            return n.Item(dot.pos, node, n.Literal(token.pos, int(token.value)))
        if token.kind != "name":
            raise self.error(f"Expected an attribute name after `.` but found {self.describe(token)}")
        self.advance()
        name = token.value + self.hyphenated_rest(token)
        if self.at("(", "punct") and self.current.pos == self.tokens[self.index - 1].end:
            args, kwargs = self.arguments()
            return n.Call(dot.pos, n.Attr(dot.pos, node, name), args, kwargs)
        return n.Attr(dot.pos, node, name)

    def hyphenated_rest(self, previous: Token) -> str:
        """`outputs.my-task.value`: glue `-part` onto an attribute name when written without spaces.

        Pebble reads this as a subtraction and fails; a hyphen touching both neighbours after
        a dotted name is read as part of the key instead (`a.b - c` still subtracts).
        """
        rest = ""
        while (self.at("-", "op") and self.current.pos == previous.end
               and self.peek().pos == self.current.end and self._gluable(self.peek())):
            self.advance()
            previous = self.advance()
            rest += "-" + previous.value
        return rest

    def _gluable(self, token: Token) -> bool:
        if token.kind == "name":
            return True
        if token.kind != "number" or not token.value.isdigit():
            return False
        after = self.peek(2)
        return after.pos == token.end and after.value in (".", "[", "-")

    def string(self, token: Token) -> n.Node:
        text = unquote(token.value)
        if token.value[0] != '"' or "#{" not in text:
            return n.Literal(token.pos, text)
        return self.interpolation(token, text)

    def interpolation(self, token: Token, text: str) -> n.Node:
        parts: list[n.Node] = []
        pos = 0
        while (start := text.find("#{", pos)) >= 0:
            end = _matching_brace(text, start + 2)
            if end < 0:
                raise self.error("Unclosed `#{` in a double-quoted string", token)
            if start > pos:
                parts.append(n.Literal(token.pos, text[pos:start]))
            inner = Parser(text[start + 2:end], token.pos + 1 + start + 2, self.template)
            parts.append(inner.parse())
            pos = end + 1
        if pos < len(text):
            parts.append(n.Literal(token.pos, text[pos:]))
        return n.Interpolation(token.pos, tuple(parts))


def _matching_brace(text: str, pos: int) -> int:
    depth = 0
    while pos < len(text):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    return -1


def _number(text: str) -> int | float:
    suffix = text[-1]
    if suffix in "lL":
        return int(text[:-1])
    if suffix in "dDfF":
        return float(text[:-1])
    return float(text) if "." in text else int(text)


def parse_expression(body: str, offset: int, template: str) -> n.Node:
    """Parse the expression `body` found at `offset` of `template`."""
    return Parser(body, offset, template).parse()
