"""L2 adapter: column types shared by the tables (UTC datetimes, portable JSON, storable text).

**What both databases store the same way.** PostgreSQL refuses a NUL character in text and in
JSONB (``\\u0000``), and a NaN or an infinity in JSONB; SQLite keeps all three. Refusing them
would make a task's result unwritable (its attempt retried forever), and storing them on one
database only would make a flow's outcome depend on the database. So every value goes in the same
way on both: a NUL becomes U+FFFD (the Unicode replacement character: one character for one, so
lengths and positions hold), a non-finite number becomes the string ``"NaN"``, ``"Infinity"`` or
``"-Infinity"`` (as Kestra's Jackson writes them). JSON columns get it from ``dumps_json``, the
engine's JSON serializer (``Database``); text columns that carry what flows produce (log
messages, label values, ForEach values) are ``StorableText``. The check is one substring search
per value; the replacement is only paid by the values that need it.
"""
from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# JSONB on PostgreSQL (smaller, indexable); plain JSON text elsewhere.
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

NUL = "\x00"
REPLACEMENT = "\ufffd"
# A NUL as json.dumps escapes it: a backslash not itself escaped (an even run of backslashes before it).
_ESCAPED_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def storable(text: str) -> str:
    """``text`` as both databases store it: NUL characters replaced by U+FFFD."""
    return text.replace(NUL, REPLACEMENT) if NUL in text else text


def dumps_json(value: Any) -> str:
    """The JSON text of ``value`` as both databases store it (the engine's ``json_serializer``):
    escaped NULs replaced by U+FFFD, non-finite numbers written as strings."""
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as error:
        if "Out of range float values" not in str(error):
            raise  # a circular reference
        text = json.dumps(finite(value))
    return _ESCAPED_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def finite(value: Any) -> Any:
    """``value`` with its NaN and infinities as strings ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


class StorableText(TypeDecorator[str]):
    """Text that flows produce: stored with ``storable`` on both databases."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable(value)


class StorableString(TypeDecorator[str]):
    """``StorableText`` with a length (``StorableString(255)``), as ``String(255)`` in the schema."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    SQLite has no timezone type: values are stored as naive UTC text so that string
    comparison (``due_at <= now``) orders correctly, and come back tz-aware.
    Naive datetimes are refused because their meaning depends on the caller's clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the database: "
                             "pass a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return utc(value)


def utc(value: datetime | None) -> datetime | None:
    """A datetime read from either database, as UtcDateTime returns it: tz-aware, in UTC
    (SQLite gives naive UTC values back)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
