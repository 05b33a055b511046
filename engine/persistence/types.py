"""L2 adapter: column types shared by the tables (UTC datetimes, portable JSON, storable text).

**What both databases store the same way.** PostgreSQL refuses a NUL character in text and in
JSONB (``\\u0000``), and a NaN or an infinity in JSONB; SQLite keeps them. Neither takes a lone
surrogate (half of a UTF-16 pair: ``json.loads('"\\ud800"')`` makes one). Refusing them would
make a task's result unwritable (its attempt retried forever), and storing them on one database
only would make a flow's outcome depend on the database. So every value goes in the same way on
both: a NUL or a lone surrogate becomes U+FFFD (the Unicode replacement character: one character
for one, so lengths and positions hold), a non-finite number becomes the string ``"NaN"``,
``"Infinity"`` or ``"-Infinity"`` (as Kestra's Jackson writes them). JSON columns get it from
``dumps_json``, the engine's JSON serializer (``Database``); text columns that carry what flows
produce (log messages, label keys and values, ForEach values, KV descriptions) are
``StorableText``. The check is a scan of each value in C; the replacement is only paid by the
values that need it.
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

REPLACEMENT = "\ufffd"
# What neither database stores in text: NUL, and lone surrogates (which UTF-8 cannot encode).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A NUL as json.dumps escapes it: a backslash not itself escaped (an even run of backslashes before it).
_ESCAPED_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def storable(text: str) -> str:
    """``text`` as both databases store it: NUL characters and lone surrogates replaced by U+FFFD."""
    return UNSTORABLE.sub(REPLACEMENT, text) if UNSTORABLE.search(text) else text


def dumps_json(value: Any) -> str:
    """The JSON text of ``value`` as both databases store it (the engine's ``json_serializer``):
    NULs and lone surrogates replaced by U+FFFD, non-finite numbers written as strings. Other
    characters are written as they are (``ensure_ascii=False``), so a surrogate in the text is a
    lone one, never half of an escaped pair."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except ValueError as error:
        if "Out of range float values" not in str(error):
            raise  # a circular reference
        text = json.dumps(finite(value), ensure_ascii=False)
    if "\\u0000" in text:
        text = _ESCAPED_NUL.sub(r"\1\\ufffd", text)
    return storable(text)


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
