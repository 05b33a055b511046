"""L1 pure core: how values become text, the Java/Jackson way Kestra prints them.

Two conversions exist because Pebble has two: what `{{ x }}` writes (Kestra's JsonWriter:
maps and lists as compact JSON) and what `~` concatenation uses (Java `toString`:
`{a=1, b=2}`, `[1, 2]`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from jinja2 import Undefined


class Entry:
    """A map entry while iterating a map in `{% for e in map %}` (Java `Map.Entry`)."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return f"{java_string(self.key)}={java_string(self.value)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.key, self.value) == (other.key, other.value)

    def __hash__(self) -> int:
        return hash(self.key)


def java_float(value: float) -> str:
    """`Double.toString`: `1.0`, `3.65`, `1.0E10`, `1.234E-5`, `NaN`, `Infinity`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def iso_datetime(value: datetime) -> str:
    """Java `Instant`/`OffsetDateTime.toString`: `T` separator, `Z` for UTC, minimal fraction."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        fraction = f"{value.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    offset = value.utcoffset()
    if offset is None:
        return text
    if not offset:
        return text + "Z"
    return text + value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:5]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Entry):
        return {value.key: value.value}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Undefined):
        str(value)  # raises the strict "Unable to find" error
    raise TypeError(f"a value of type {type(value).__name__} cannot be written as JSON")


def to_json(value: Any) -> str:
    """Compact JSON like Jackson: `{"a":1}`; non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default,
                      allow_nan=True)


def scalar_string(value: Any) -> str | None:
    """Text of a scalar the Java way, or None when `value` is not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return java_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f") if value == value.to_integral_value() else str(value)
    return None


def output_string(value: Any) -> str:
    """What `{{ value }}` writes: scalars Java-style, maps/lists as compact JSON."""
    text = scalar_string(value)
    if text is not None:
        return text
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return to_json(value)
    return str(value)


def java_string(value: Any) -> str:
    """Java `toString`, used by `~`: `{a=1, b=2}` for maps, `[1, 2]` for lists."""
    if value is None:
        return "null"
    text = scalar_string(value)
    if text is not None:
        return text
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def utc(value: datetime) -> datetime:
    """A tz-aware datetime in UTC (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
