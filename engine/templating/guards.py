"""L1 pure core: the filters, functions and operators that could outgrow an expression's budget,
wrapped so that they check it before the step that would (docs/flow-language.md, "Limits").

Each replaces the plain one of the same name in the Renderer's tables. What grows is checked
before it is built (a range's count, an indentation, a product's bits, a join, a value written
as text), because one C-level step building it would hold the interpreter lock; what only
loops in Python looks at the clock as it goes.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import regex

from engine.templating import filters_data, filters_text, operators, output
from engine.templating.budget import Budget
from engine.templating.jq_process import JqProcesses
from engine.templating.patterns import is_literal, java_regex, literal_spans, substitute

_KEPT_PATTERNS = 256
_SMALL = 1024  # loops over fewer items than this are checked at their next call, not per item


class Guards:
    """The budgeted replacements of one Renderer."""

    def __init__(self, budget: Budget, jq: JqProcesses) -> None:
        self.budget = budget
        self.jq_processes = jq
        self._patterns: dict[str, regex.Pattern[str]] = {}  # compiled, and known not too large

    def runtime_globals(self) -> dict[str, Callable[..., Any]]:
        """The operators' replacements; calls, so the environment's ``call`` looks at the clock."""
        return {"_pb_range": self.range, "_pb_iter": self.iterate, "_pb_math": self.math,
                "_pb_add": self.add, "_pb_concat": self.concat, "_pb_contains": self.contains}

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {"range": self.range}

    def filters(self) -> dict[str, Callable[..., Any]]:
        written = {name: self._written(filters_data.FILTERS[name])
                   for name in ("json", "toJson", "jsonEncode", "string", "yaml", "toIon")}
        return {**written, "join": self.join, "jq": self.jq, "split": self.split, "replace": self.replace,
                "indent": self.indent, "nindent": self.nindent, "flatten": self.flatten,
                "distinct": self.distinct}

    # -- operators ----------------------------------------------------------------------
    def range(self, start: Any, end: Any, step: Any = 1) -> list[Any]:
        operators.check_defined(start, end, step)
        if all(operators.is_number(v) for v in (start, end, step)) and step != 0:
            self.budget.check_items(max(0, int((end - start) // step) + 1))
        return operators.inclusive_range(start, end, step)

    def iterate(self, value: Any) -> Iterable[Any]:
        items = operators.iterate(value)
        if isinstance(items, (list, tuple)) and len(items) < _SMALL:
            return items
        return self.budget.iterate(items)

    def math(self, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and isinstance(left, int) and isinstance(right, int):
            self.budget.check_product(left, right)
        return self.budget.check_size(operators.math_op(operator, left, right))

    def add(self, left: Any, right: Any) -> Any:
        if isinstance(left, str) or isinstance(right, str):
            self._check_parts(left, right)
        return self.budget.check_size(operators.add(left, right))

    def concat(self, *parts: Any) -> str:
        self._check_parts(*parts)
        return operators.concat(*parts)

    def contains(self, container: Any, item: Any) -> bool:
        if isinstance(container, str):
            self.budget.check_serialisable(item)
        return operators.contains(container, item)

    def _check_parts(self, *parts: Any) -> None:
        length = 0
        for part in parts:
            if isinstance(part, str):
                length += len(part)
            else:
                self.budget.check_serialisable(part)
        self.budget.check_text(length)

    # -- filters that write values as text ---------------------------------------------
    def _written(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def written(value: Any, *args: Any, **kwargs: Any) -> Any:
            self.budget.check_serialisable(value)
            return function(value, *args, **kwargs)
        written.__name__ = function.__name__
        return written

    def join(self, value: Any, separator: str = "") -> Any:
        self.budget.check_serialisable(value)
        if isinstance(value, (list, tuple, Mapping)) and separator:
            self.budget.check_text(len(output.java_string(separator)) * len(value))
        return filters_data.join(value, separator)

    def jq(self, value: Any, expression: str) -> list[Any]:
        self.budget.check_serialisable(value)
        data = value
        if isinstance(value, str):
            try:
                data = json.loads(value)
            except ValueError:
                data = value
        else:
            data = json.loads(output.to_json(value))
        try:
            return self.jq_processes.run(str(expression), data, timeout=self.budget.remaining(),
                                         max_chars=self.budget.limits.max_text_length)
        except TimeoutError:
            raise self.budget.timeout_error() from None

    # -- filters that build text -------------------------------------------------------
    def indent(self, value: Any, amount: int, prefix: str = " ") -> Any:
        self._check_indent(value, amount, prefix, first_line=False)
        return filters_text.indent(value, amount, prefix)

    def nindent(self, value: Any, amount: int, prefix: str = " ") -> Any:
        self._check_indent(value, amount, prefix, first_line=True)
        return filters_text.nindent(value, amount, prefix)

    def _check_indent(self, value: Any, amount: Any, prefix: Any, first_line: bool) -> None:
        padding = max(int(amount), 0) * len(str(prefix))
        self.budget.check_text(padding)
        if isinstance(value, str):
            self.budget.check_text(len(value) + padding * (value.count("\n") + int(first_line)))

    def split(self, value: Any, delimiter: str, limit: int = 0) -> Any:
        text = filters_text.text_of(value, "split")
        if text is None:
            return None
        delimiter = str(delimiter)
        if is_literal(delimiter):
            return filters_text.split_spans(text, literal_spans(text, delimiter), limit)
        matches = self._matches(self._pattern(delimiter), text)
        return filters_text.split_spans(text, (match.span() for match in matches), limit)

    def replace(self, value: Any, replace_pairs: Mapping[str, Any], regexp: bool = False) -> Any:
        if not isinstance(replace_pairs, Mapping):
            return filters_text.replace(value, replace_pairs, regexp)
        if isinstance(value, Mapping):
            return {k: self.replace(v, replace_pairs, regexp) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.replace(v, replace_pairs, regexp) for v in value]
        if not isinstance(value, str):
            return value
        for old, new in replace_pairs.items():
            new_text = output.java_string(new)
            if regexp and not (is_literal(str(old)) and "$" not in new_text and "\\" not in new_text):
                pattern = self._pattern(str(old))
                value = substitute(pattern, new_text, value, self._matches(pattern, value),
                                   self.budget.check_text)
            else:
                self.budget.check_text(len(value) + value.count(str(old)) * (len(new_text) - len(str(old))))
                value = value.replace(str(old), new_text)
        return value

    def _pattern(self, source: str) -> regex.Pattern[str]:
        pattern = self._patterns.get(source)
        if pattern is None:
            if len(self._patterns) >= _KEPT_PATTERNS:
                self._patterns.clear()  # patterns are user data: bounded, like the template cache
            pattern = self._patterns[source] = java_regex(source)
        return pattern

    def _matches(self, pattern: regex.Pattern[str], text: str) -> Iterable[regex.Match[str]]:
        try:
            for match in pattern.finditer(text, timeout=self.budget.remaining(), concurrent=True):
                self.budget.check_time()
                yield match
        except TimeoutError:
            raise self.budget.timeout_error() from None

    # -- filters over collections ------------------------------------------------------
    def flatten(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            self.budget.check_items(sum(len(v) if isinstance(v, (list, tuple)) else 1 for v in value))
        return filters_data.flatten(value)

    def distinct(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        items = value.values() if isinstance(value, Mapping) else value
        seen: set[Any] = set()
        unhashable: list[Any] = []
        unique: list[Any] = []
        for item in self.budget.iterate(items):
            if isinstance(item, Hashable) and not isinstance(item, tuple):
                if item in seen:
                    continue
                seen.add(item)
            else:
                self.budget.check_time()  # a scan of the unhashable ones so far, in C
                if item in unhashable:
                    continue
                unhashable.append(item)
            unique.append(item)
        return unique
