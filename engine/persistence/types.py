"""L2 adapter: column types shared by the tables (UTC datetimes, portable JSON, storable text).

Values go in the same way on both databases (``engine.storable``: NULs, lone surrogates,
non-finite numbers, which PostgreSQL refuses): JSON columns through the engine's JSON serializer
(``engine.storable.dumps_json``, given to ``create_engine`` by ``Database``); the text columns that carry what
flows produce (log messages, label keys and values, ForEach values, KV descriptions) are
``StorableText`` or ``StorableString``, which also apply to the values a query compares them with.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.persistence.records import utc as utc
from engine.storable import storable

# JSONB on PostgreSQL (smaller, indexable); plain JSON text elsewhere.
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

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
