"""L1 pure core: writes a parsed Pebble expression as Jinja2 expression source.

Every operator whose meaning differs between the engines becomes a call to a runtime
helper (`_pb_*`, see `operators.py`), so Jinja only ever does plain lookups, calls,
filters and tests. Attribute access is always emitted as a subscript: the environment
resolves it on mappings by key only, so `outputs.t.values` is the key `values`, never
`dict.values`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.templating import nodes as n
from engine.templating.errors import ExpressionError
from engine.templating.lexer import line_col

_SIMPLE_BINARY = {
    "==": "_pb_eq({l}, {r})", "equals": "_pb_eq({l}, {r})", "!=": "(not _pb_eq({l}, {r}))",
    "<": "_pb_cmp('<', {l}, {r})", ">": "_pb_cmp('>', {l}, {r})",
    "<=": "_pb_cmp('<=', {l}, {r})", ">=": "_pb_cmp('>=', {l}, {r})",
    "+": "_pb_add({l}, {r})", "-": "_pb_math('-', {l}, {r})", "*": "_pb_math('*', {l}, {r})",
    "/": "_pb_math('/', {l}, {r})", "%": "_pb_math('%', {l}, {r})",
    "~": "_pb_concat({l}, {r})", "contains": "_pb_contains({l}, {r})",
    "isIn": "_pb_is_in({l}, {r})", "notIn": "(not _pb_is_in({l}, {r}))",
    "..": "_pb_range({l}, {r})",
    "or": "(_pb_truth({l}) or _pb_truth({r}))", "and": "(_pb_truth({l}) and _pb_truth({r}))",
    "??": "_pb_unbox(_pb_nonnull({l}) or _pb_box({r}))",
    "???": "_pb_unbox(_pb_defined({l}) or _pb_box({r}))",
}
# Python internals a sandbox escape would go through (dunders are refused as well).
_FORBIDDEN_ATTRS = frozenset({"mro", "func_globals", "f_globals", "gi_frame", "gi_code",
                              "cr_frame", "f_locals", "f_back", "tb_frame"})
# Pebble's loop counters are 0-based where Jinja's `index`/`revindex` are 1-based.
_LOOP_ATTRS = {"index": "index0", "revindex": "revindex0"}


def jinja_string(text: str) -> str:
    """A Jinja string literal that evaluates back to exactly `text`."""
    escaped = (text.replace("\\", "\\\\").replace("'", "\\'")
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return "'" + escaped + "'"


class Emitter:
    """Turns nodes into Jinja source; `is_function` validates names used as calls."""

    def __init__(self, is_function: Callable[[str], bool], template: str) -> None:
        self.is_function = is_function
        self.template = template
        self.paths: list[tuple[str, ...]] = []

    def emit(self, node: n.Node) -> str:
        method = getattr(self, "_" + type(node).__name__.lower())
        return str(method(node))

    def _args(self, args: Iterable[n.Node], kwargs: Iterable[tuple[str, n.Node]] = ()) -> str:
        parts = [self.emit(a) for a in args] + [f"{k}={self.emit(v)}" for k, v in kwargs]
        return ", ".join(parts)

    def _literal(self, node: n.Literal) -> str:
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "none"
        if isinstance(value, str):
            return jinja_string(value)
        return repr(value)

    def _name(self, node: n.Name) -> str:
        self.paths.append((node.name,))
        return node.name

    def _attr(self, node: n.Attr) -> str:
        obj = self.emit(node.obj)
        if node.name.startswith("__") or node.name in _FORBIDDEN_ATTRS:
            raise self._error(node, f"Access to `{node.name}` is not allowed in expressions")
        self._record_path(node)
        if isinstance(node.obj, n.Name) and node.obj.name == "loop" and node.name in _LOOP_ATTRS:
            return f"loop.{_LOOP_ATTRS[node.name]}"
        return f"{obj}[{jinja_string(node.name)}]"

    def _record_path(self, node: n.Node) -> None:
        parts: list[str] = []
        while isinstance(node, n.Attr):
            parts.append(node.name)
            node = node.obj
        if isinstance(node, n.Name):
            self.paths.append((node.name, *reversed(parts)))

    def _item(self, node: n.Item) -> str:
        return f"{self.emit(node.obj)}[{self.emit(node.key)}]"

    def _call(self, node: n.Call) -> str:
        if isinstance(node.func, n.Name):
            name = node.func.name
            if not self.is_function(name):
                raise self._error(node, f"Unknown function `{name}()`")
            return f"{name}({self._args(node.args, node.kwargs)})"
        return f"{self.emit(node.func)}({self._args(node.args, node.kwargs)})"

    def _error(self, node: n.Node, message: str) -> ExpressionError:
        line, column = line_col(self.template, node.pos)
        return ExpressionError(message, expression=self.template, line=line, column=column)

    def _filter(self, node: n.Filter) -> str:
        args = f"({self._args(node.args, node.kwargs)})" if node.args or node.kwargs else ""
        return f"(({self.emit(node.value)})|{node.name}{args})"

    def _test(self, node: n.Test) -> str:
        args = f"({self._args(node.args)})" if node.args else ""
        negation = "not " if node.negated else ""
        return f"(({self.emit(node.value)}) is {negation}{node.name}{args})"

    def _unary(self, node: n.Unary) -> str:
        operand = self.emit(node.operand)
        if node.op == "not":
            return f"(not _pb_truth({operand}))"
        return f"_pb_math('*', {-1 if node.op == '-' else 1}, {operand})"

    def _binary(self, node: n.Binary) -> str:
        return _SIMPLE_BINARY[node.op].format(l=self.emit(node.left), r=self.emit(node.right))

    def _ternary(self, node: n.Ternary) -> str:
        return (f"(({self.emit(node.then)}) if _pb_truth({self.emit(node.cond)}) "
                f"else ({self.emit(node.other)}))")

    def _listlit(self, node: n.ListLit) -> str:
        return "[" + ", ".join(self.emit(i) for i in node.items) + "]"

    def _maplit(self, node: n.MapLit) -> str:
        pairs = ", ".join(f"{self.emit(k)}: {self.emit(v)}" for k, v in node.pairs)
        return "{ " + pairs + " }"

    def _interpolation(self, node: n.Interpolation) -> str:
        return f"_pb_concat({self._args(node.parts)})"
