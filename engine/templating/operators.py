"""L1 pure core: runtime helpers behind Pebble operators whose meaning differs from Jinja's.

The emitter writes `_pb_add(a, b)` and friends instead of Jinja's own operators so that
math follows Java (integer division truncates, `%` keeps the dividend's sign), `==`
never equates `true` with `1`, `~` uses Java `toString`, and `??` is lazy.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Undefined

from engine.templating.errors import ExpressionError
from engine.templating.output import Entry, java_string

_OPERATION_NAMES = {"+": "addition", "-": "subtraction", "*": "multiplication",
                    "/": "division", "%": "modulus"}


def check_defined(*values: Any) -> None:
    """Raise the strict "Unable to find" error for the first undefined value."""
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def truth(value: Any) -> bool:
    """Truth of a condition: null is false, numbers are true unless 0, "false"/"" are false."""
    check_defined(value)
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false")
    return bool(value)


def equals(left: Any, right: Any) -> bool:
    check_defined(left, right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def compare(operator: str, left: Any, right: Any) -> bool:
    check_defined(left, right)
    if left is None or right is None:
        return False
    try:
        if operator == "<":
            return bool(left < right)
        if operator == ">":
            return bool(left > right)
        if operator == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        raise ExpressionError(f"Cannot compare {java_string(left)!r} {operator} {java_string(right)!r}: "
                              "the values have different types") from None


def add(left: Any, right: Any) -> Any:
    check_defined(left, right)
    if isinstance(left, str) or isinstance(right, str):
        return java_string(left) + java_string(right)
    if isinstance(left, list):
        return left + (list(right) if isinstance(right, (list, tuple)) else [right])
    return math_op("+", left, right)


def math_op(operator: str, left: Any, right: Any) -> Any:
    check_defined(left, right)
    if not (is_number(left) and is_number(right)):
        raise ExpressionError(
            f"Could not perform {_OPERATION_NAMES[operator]}: {java_string(left)!r} and "
            f"{java_string(right)!r} must both be numbers (a task id with `-` needs "
            "`outputs['my-task']`)")
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if isinstance(left, int) and isinstance(right, int):
        return _integer_division(operator, left, right)
    return _float_division(operator, float(left), float(right))


def _integer_division(operator: str, left: int, right: int) -> int:
    if right == 0:
        raise ExpressionError(f"Division by zero in {left} {operator} {right}")
    quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
    return quotient if operator == "/" else left - right * quotient


def _float_division(operator: str, left: float, right: float) -> float:
    if right == 0:
        if operator == "%" or left == 0:
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1, right)
    return left / right if operator == "/" else math.fmod(left, right)


def concat(*parts: Any) -> str:
    """Pebble `~`: null contributes nothing, everything else its Java `toString`."""
    check_defined(*parts)
    return "".join(java_string(p) for p in parts if p is not None)


def contains(container: Any, item: Any) -> bool:
    check_defined(container, item)
    if container is None:
        return False
    if isinstance(container, Mapping):
        return item in container
    if isinstance(container, str):
        return java_string(item) in container
    if isinstance(container, Iterable):
        values = list(container)
        if isinstance(item, (list, tuple)):
            return all(_member(i, values) for i in item)
        return _member(item, values)
    raise ExpressionError(f"`contains` needs a list, a map or a string, not {type(container).__name__}")


def is_in(item: Any, container: Any) -> bool:
    """Kestra's ``x isIn c``: false when either is null; compares the values' text, so an enum
    state and its name match; a map matches on a key or a value."""
    check_defined(item, container)
    if item is None or container is None:
        return False
    text = java_string(item)
    if isinstance(container, Mapping):
        return any(java_string(k) == text or java_string(v) == text for k, v in container.items())
    if isinstance(container, (str, bytes)) or not isinstance(container, Iterable):
        return False
    return any(value is not None and java_string(value) == text for value in container)


def _member(item: Any, values: list[Any]) -> bool:
    return any(equals(item, v) for v in values)


def inclusive_range(start: Any, end: Any, step: Any = 1) -> list[Any]:
    """Pebble `range(a, b[, step])` and `a..b`: both ends included."""
    check_defined(start, end, step)
    if not all(is_number(v) for v in (start, end, step)):
        raise ExpressionError("range() needs numbers: range(start, end[, step])")
    if step == 0:
        raise ExpressionError("range() step cannot be 0")
    values: list[Any] = []
    current = start
    while (current <= end) if step > 0 else (current >= end):
        values.append(current)
        current += step
    return values


def iterate(value: Any) -> Iterable[Any]:
    """What `{% for %}` walks: map entries with `.key`/`.value`, nothing for null."""
    check_defined(value)
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return [Entry(k, v) for k, v in value.items()]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return value


class Box:
    """Carries a value through `or` so that `??` evaluates each side at most once."""

    __slots__ = ("value", "present")

    def __init__(self, value: Any, present: bool) -> None:
        self.value = value
        self.present = present

    def __bool__(self) -> bool:
        return self.present


def box_nonnull(value: Any) -> Box:
    return Box(value, value is not None and not isinstance(value, Undefined))


def box_defined(value: Any) -> Box:
    return Box(value, not isinstance(value, Undefined))


def box(value: Any) -> Box:
    return Box(value, True)


def unbox(value: Box) -> Any:
    return value.value


RUNTIME_GLOBALS: dict[str, Any] = {
    "_pb_truth": truth, "_pb_eq": equals, "_pb_cmp": compare, "_pb_add": add,
    "_pb_math": math_op, "_pb_concat": concat, "_pb_contains": contains, "_pb_is_in": is_in,
    "_pb_range": inclusive_range, "_pb_iter": iterate, "_pb_nonnull": box_nonnull,
    "_pb_defined": box_defined, "_pb_box": box, "_pb_unbox": unbox,
}
