"""L1 pure core: input values: how a raw value (a string from a form, a typed value from YAML or a
trigger) becomes the typed, JSON-friendly value that ``{{ inputs.x }}`` reads.

The input type models (``engine.model.input_types``) parse with these, also to check ``defaults``
when a flow is validated; ``engine.inputs`` resolves the inputs of a new execution with the models.
A parser raises ``ValueError`` with Kestra's ``it must ...`` wording, which ``engine.inputs`` wraps
into ``Invalid input for `id`, <message>, but received `<value>```.

Typed values are JSON-friendly, the way Kestra serialises them: date-times as ISO instants in UTC
(``2024-01-01T10:00:00Z``), dates and times as ISO strings, durations as ISO-8601 (``PT5M``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from engine.durations import DurationError, format_duration, parse_duration

# The URIs a FILE input's value may be (engine/storage/access.py reads them).
FILE_URI_SCHEMES = ("kestra://", "nsfile://", "file://")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
# Kestra's EmailInput pattern: its local part admits U+2019 where the RFC has the ASCII quote.
_EMAIL = re.compile(r"^$|^[a-zA-Z0-9_!#$%&\u2019*+/=?`{|}~^.-]+@[a-zA-Z0-9.-]+$")


def kind(value: Any) -> str:
    """How YAML would call the value's type, for messages."""
    if value is None:
        return "null"
    for py_type, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"),
                          (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, py_type):
            return name
    return type(value).__name__


def java_list(items: Iterable[Any]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"it must be a string, not {kind(value)}")


def as_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError("it must be an integer") from None


def as_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError("it must be a number") from None


def as_boolean(value: Any) -> bool:
    # Kestra: "true" in any case is true, anything else is false.
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def as_duration(value: Any) -> str:
    try:
        return format_duration(parse_duration(str(value)))
    except DurationError:
        raise ValueError("it must be an ISO-8601 duration such as PT5M or P1DT2H") from None


def as_datetime(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError("it must be an ISO-8601 date-time with a zone, such as 2024-01-01T10:00:00Z")
    return format_instant(moment)


def as_date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("it must be a date in the form yyyy-MM-dd") from None


def as_time(value: Any) -> str:
    try:
        return time.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("it must be a time in the form HH:mm or HH:mm:ss") from None


def as_uri(value: Any) -> str:
    text = as_string(value)
    if not _URI.match(text):
        raise ValueError("it must be a URI such as https://example.com/data.csv")
    return text


def as_file_uri(value: Any) -> str:
    text = as_string(value)
    if not text.startswith(FILE_URI_SCHEMES):
        raise ValueError("it must be a file URI: kestra:///..., nsfile:///path or file:///path")
    return text


def as_email(value: Any) -> str:
    text = as_string(value)
    if not _EMAIL.match(text):
        raise ValueError("it must be an email address such as jane@example.com")
    return text


def as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("it must be a list or a JSON array") from None
    if not isinstance(value, list):
        raise ValueError("it must be a list or a JSON array")
    return value


def temporal_key(type_name: str, text: str) -> Any:
    """A comparable value for a DATETIME, DATE or TIME input's value or bound."""
    if type_name == "DATETIME":
        return datetime.fromisoformat(as_datetime(text))
    if type_name == "DATE":
        return date.fromisoformat(as_date(text))
    return time.fromisoformat(as_time(text))


def format_instant(moment: datetime) -> str:
    """A UTC instant the way Java's ``Instant.toString`` prints it (``2024-01-01T10:00:00Z``)."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    # Java prints the fraction in groups of three digits: millis, or micros when needed.
    if utc.microsecond % 1000:
        text += f".{utc.microsecond:06d}"
    elif utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def shown(value: Any) -> str:
    """A value as Kestra prints it in messages (Java ``toString``; JSON for lists and maps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)
