"""L1 pure core: collection, serialisation and number filters (Pebble + Kestra); `jq` and
`distinct` are in guards.py."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml as yamllib
from jinja2 import Undefined

from engine.templating.errors import ExpressionError
from engine.templating.numbers import decimal_format
from engine.templating.operators import is_number
from engine.templating.output import Entry, to_json


def is_empty(value: Any) -> bool:
    """Pebble's `empty`: null, blank string, empty collection or map."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return len(value) == 0
    return False


def default(value: Any, default_value: Any = None) -> Any:
    """The one filter that accepts an undefined value (as Pebble's does)."""
    return default_value if is_empty(value) else value


def _sequence(value: Any, filter_name: str) -> list[Any] | str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, Iterable):
        return list(value)
    raise ExpressionError(f"The `{filter_name}` filter needs a list, a map or a string, "
                          f"not a {type(value).__name__}")


def first(value: Any) -> Any:
    items = _sequence(value, "first")
    return items[0] if items else None


def last(value: Any) -> Any:
    items = _sequence(value, "last")
    return items[-1] if items else None


def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, (str, Mapping, list, tuple, set, frozenset)):
        return len(value)
    if isinstance(value, Iterable):
        return len(list(value))
    return 1


def join(value: Any, separator: str = "") -> Any:
    from engine.templating.output import java_string
    items = _sequence(value, "join")
    if items is None or isinstance(items, str):
        return items
    return (separator or "").join(java_string(v) for v in items)


def slice_(value: Any, from_index: int = 0, to_index: int | None = None) -> Any:
    """Pebble `slice(fromIndex, toIndex)`: a substring or a sub-list, end excluded."""
    items = _sequence(value, "slice")
    if items is None:
        return None
    end = len(items) if to_index is None else int(to_index)
    start = int(from_index)
    if start < 0 or end > len(items) or start > end:
        raise ExpressionError(f"slice({start}, {end}) is out of range for a value of length {len(items)}")
    return items[start:end]


def merge(value: Any, other: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    if isinstance(value, (list, tuple)):
        return list(value) + (list(other) if isinstance(other, (list, tuple)) else [other])
    raise ExpressionError("merge() joins two lists or two maps")


def reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    items = _sequence(value, "reverse")
    return None if items is None else list(reversed(items))


def sort(value: Any) -> Any:
    return _sorted(value, descending=False)


def rsort(value: Any) -> Any:
    return _sorted(value, descending=True)


def _sorted(value: Any, descending: bool) -> Any:
    items = _sequence(value, "sort")
    if items is None:
        return None
    try:
        return sorted(items, reverse=descending)
    except TypeError:
        raise ExpressionError("sort: the list mixes values that cannot be compared") from None


def abs_(value: Any) -> Any:
    if not is_number(value):
        raise ExpressionError(f"abs needs a number, not {value!r}")
    return abs(value)


def keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, (list, tuple)):
        return list(range(len(value)))
    raise ExpressionError("keys needs a map or a list")


def values(value: Any) -> Any:
    if isinstance(value, Mapping):
        return list(value.values())
    raise ExpressionError("values needs a map")


def chunk(value: Any, size: int) -> Any:
    items = _sequence(value, "chunk")
    if int(size) <= 0:
        raise ExpressionError("chunk(size) needs a size greater than 0")
    return None if items is None else [items[i:i + int(size)] for i in range(0, len(items), int(size))]


def flatten(value: Any) -> Any:
    items = _sequence(value, "flatten")
    if items is None or isinstance(items, str):
        return items
    flat: list[Any] = []
    for item in items:
        flat.extend(item) if isinstance(item, (list, tuple)) else flat.append(item)
    return flat


def to_json_filter(value: Any) -> str:
    return to_json(value)


def to_string(value: Any) -> Any:
    from engine.templating.output import output_string
    return None if value is None else output_string(value)


def to_yaml(value: Any) -> str:
    plain = json.loads(to_json(value))
    return str(yamllib.safe_dump(plain, default_flow_style=False, sort_keys=False, allow_unicode=True))


def to_ion(value: Any) -> str:
    """ION text, as Jackson's Ion writer prints it (floats get an `e0` exponent)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).replace("e+", "e") + ("" if "e" in repr(value) else "e0")
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_ion_symbol(str(k))}:{to_ion(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_ion(v) for v in value) + "]"
    return json.dumps(json.loads(to_json(value)), ensure_ascii=False)


def _ion_symbol(name: str) -> str:
    return name if name.isidentifier() else "'" + name.replace("'", "\\'") + "'"


_MAX_DECIMAL_EXPONENT = 4300
_NUMBER_TYPES = {"INT", "INTEGER", "LONG", "BIGINTEGER", "FLOAT", "DOUBLE", "BIGDECIMAL"}


def number(value: Any, type: str | None = None) -> Any:  # noqa: A002 - Kestra's argument name
    """Parse a string into a number; the kind is inferred when `type` is absent."""
    if is_number(value) or isinstance(value, Decimal):
        return value
    text = str(value).strip()
    kind = (type or "").upper()
    if kind and kind not in _NUMBER_TYPES:
        raise ExpressionError(f"number(type) must be one of {', '.join(sorted(_NUMBER_TYPES))}")
    try:
        if kind in ("INT", "INTEGER", "LONG", "BIGINTEGER"):
            return int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text)
        if kind in ("FLOAT", "DOUBLE"):
            return float(text)
        if kind != "BIGDECIMAL":
            return _inferred_number(text)
        decimal = Decimal(text)
    except (ValueError, InvalidOperation):
        raise ExpressionError(f"number: `{text}` is not a number") from None
    return _bounded(decimal)


def _bounded(value: Decimal) -> Decimal:
    # `1E999999999` is a few bytes, but printing it writes a billion digits.
    if value.is_finite() and abs(value.adjusted()) > _MAX_DECIMAL_EXPONENT:
        raise ExpressionError(f"number: the exponent of `{value}` is beyond ±{_MAX_DECIMAL_EXPONENT}")
    return value


def _inferred_number(text: str) -> Any:
    if text.lower().startswith(("0x", "-0x")):
        return int(text, 16)
    stripped = text.rstrip("lLdDfF") if text[-1:] in "lLdDfF" and text[:-1] else text
    if stripped.lstrip("+-").isdigit():
        return int(stripped)
    return float(stripped)


def number_format(value: Any, pattern: str) -> str:
    if not (is_number(value) or isinstance(value, Decimal)):
        raise ExpressionError(f"numberFormat needs a number, not {value!r}")
    return decimal_format(value, pattern)


_JAVA_CLASSES: tuple[tuple[type, str], ...] = (
    (bool, "java.lang.Boolean"), (str, "java.lang.String"), (float, "java.lang.Double"),
    (Decimal, "java.math.BigDecimal"), (Mapping, "java.util.LinkedHashMap"),
    (list, "java.util.ArrayList"), (tuple, "java.util.ArrayList"), (Entry, "java.util.Map$Entry"),
)


def class_name(value: Any) -> Any:
    """The Java class Kestra would report for an equivalent value."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return "java.lang.Integer" if -2**31 <= value < 2**31 else "java.lang.Long"
    for python_type, java_name in _JAVA_CLASSES:
        if isinstance(value, python_type):
            return java_name
    from datetime import date, datetime
    if isinstance(value, datetime):
        return "java.time.ZonedDateTime" if value.tzinfo else "java.time.LocalDateTime"
    if isinstance(value, date):
        return "java.time.LocalDate"
    return type(value).__name__


FILTERS: dict[str, Callable[..., Any]] = {
    "default": default, "first": first, "last": last, "length": length, "join": join,
    "slice": slice_, "merge": merge, "reverse": reverse, "sort": sort, "rsort": rsort,
    "abs": abs_, "keys": keys, "values": values, "chunk": chunk, "flatten": flatten,
    "json": to_json_filter, "toJson": to_json_filter,
    "jsonEncode": to_json_filter, "string": to_string, "yaml": to_yaml, "toIon": to_ion,
    "number": number, "numberFormat": number_format, "className": class_name,
}
