"""L2 adapter: the namespace key-value store (Kestra's KV), with types and expiry.

Values are stored as JSON next to their ``KVType``: dates and datetimes as ISO-8601 text,
durations as ``PT..``, so ``get`` can hand back the same Python type that was set.
A key past its expiration date raises :class:`KVExpired` on ``get`` (Kestra's
ResourceExpired); expired keys are hidden from ``list`` unless asked for.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from engine.durations import format_duration, parse_duration
from engine.kv_types import KVType
from engine.persistence.base import Repository, affected, insert_for
from engine.persistence.records import KVExpired as KVExpired
from engine.persistence.records import KVValue as KVValue
from engine.persistence.records import decode as decode
from engine.persistence.records import kv_value
from engine.persistence.tables import kv
from engine.tasks.protocols import KVEntry


def infer_type(value: Any) -> KVType:
    """Kestra infers the type from the value's class; bool is tested before int on purpose."""
    if isinstance(value, bool):
        return KVType.BOOLEAN
    if isinstance(value, (int, float, Decimal)):
        return KVType.NUMBER
    if isinstance(value, datetime):
        return KVType.DATETIME
    if isinstance(value, date):
        return KVType.DATE
    if isinstance(value, timedelta):
        return KVType.DURATION
    if isinstance(value, (dict, list, tuple)):
        return KVType.JSON
    if isinstance(value, str):
        return KVType.STRING
    raise TypeError(f"unsupported KV value type {type(value).__name__}")


def coerce(value: Any, kind: KVType) -> Any:
    """A value of ``kind`` from a Python value or from its text form (API, CLI)."""
    if not isinstance(value, str) or kind is KVType.STRING:
        return value
    text = value.strip()
    parsers: dict[KVType, Callable[[str], Any]] = {
        KVType.NUMBER: _number, KVType.BOOLEAN: lambda t: t.lower() == "true",
        KVType.DATETIME: lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")),
        KVType.DATE: date.fromisoformat, KVType.DURATION: parse_duration, KVType.JSON: json.loads,
    }
    return parsers[kind](text)


def _number(text: str) -> int | float:
    number = json.loads(text)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ValueError(f"{text!r} is not a number")
    return number


def encode(value: Any, kind: KVType) -> Any:
    if kind in (KVType.DATETIME, KVType.DATE):
        return value.isoformat()
    if kind is KVType.DURATION:
        return format_duration(value)
    if isinstance(value, Decimal):
        return float(value) if value % 1 else int(value)
    if isinstance(value, tuple):
        return list(value)
    return value


class KVRepository(Repository):
    def set(self, namespace: str, key: str, value: Any, now: datetime, *,
            ttl: timedelta | None = None, expiration: datetime | None = None,
            kind: KVType | None = None, description: str | None = None,
            session: Session | None = None) -> KVValue:
        """Creates or replaces ``key``; ``ttl`` sets the expiration to ``now + ttl``
        (or pass ``expiration`` itself).

        The type is inferred from ``value`` unless ``kind`` gives it; a text value with an
        explicit kind is parsed (``"PT5M"`` with DURATION becomes a timedelta).
        """
        kind = kind or infer_type(value)
        typed = coerce(value, kind)
        if ttl is not None:
            if expiration is not None:
                raise ValueError("give either ttl or expiration, not both")
            expiration = now + ttl
        values = {"namespace": namespace, "key": key, "value": encode(typed, kind),
                  "type": kind.value, "expiration": expiration, "description": description,
                  "created": now, "updated": now}
        with self._tx(session) as tx:
            statement = insert_for(tx, kv).values(**values)
            tx.execute(statement.on_conflict_do_update(
                index_elements=[kv.c.namespace, kv.c.key],
                set_={c: statement.excluded[c] for c in
                      ("value", "type", "expiration", "description", "updated")}))
            row = tx.execute(_select(namespace, key)).one()
        return kv_value(row._mapping)

    def get(self, namespace: str, key: str, now: datetime, *,
            session: Session | None = None) -> KVValue | None:
        """The typed entry, None if absent; raises KVExpired if it has expired."""
        entry = self.get_any(namespace, key, session=session)
        if entry is not None and entry.expiration is not None and entry.is_expired(now):
            raise KVExpired(namespace, key, entry.expiration)
        return entry

    def get_any(self, namespace: str, key: str, *,
                session: Session | None = None) -> KVValue | None:
        """The entry whether expired or not (for callers that decide expiry themselves)."""
        with self._tx(session, write=False) as tx:
            row = tx.execute(_select(namespace, key)).first()
        return kv_value(row._mapping) if row else None

    def namespaces(self, within: str, *, session: Session | None = None) -> list[str]:
        """The namespaces holding a key: ``within`` and its children (``within.*``), sorted."""
        query = (select(kv.c.namespace).distinct().order_by(kv.c.namespace)
                 .where((kv.c.namespace == within) | kv.c.namespace.startswith(within + ".", autoescape=True)))
        with self._tx(session, write=False) as tx:
            return [row.namespace for row in tx.execute(query).all()]

    def list(self, namespace: str, now: datetime, *, prefix: str | None = None,
             include_expired: bool = False, session: Session | None = None) -> list[KVValue]:
        """Entries of ``namespace`` sorted by key (values, types and dates included)."""
        query = select(kv).where(kv.c.namespace == namespace).order_by(kv.c.key)
        if prefix:
            query = query.where(kv.c.key.startswith(prefix, autoescape=True))
        if not include_expired:
            query = query.where(kv.c.expiration.is_(None) | (kv.c.expiration > now))
        with self._tx(session, write=False) as tx:
            return [kv_value(row._mapping) for row in tx.execute(query).all()]

    def delete(self, namespace: str, key: str, *, session: Session | None = None) -> bool:
        with self._tx(session) as tx:
            result = tx.execute(delete(kv).where(kv.c.namespace == namespace, kv.c.key == key))
            return bool(affected(result))

    def purge_expired(self, now: datetime, *, session: Session | None = None) -> int:
        """Deletes every expired entry; returns how many."""
        with self._tx(session) as tx:
            return affected(tx.execute(delete(kv).where(kv.c.expiration <= now)))

    def as_store(self, clock: Callable[[], datetime]) -> RepositoryKVStore:
        """This repository behind the task layer's ``KVStore`` protocol."""
        return RepositoryKVStore(self, clock)


class RepositoryKVStore:
    """Implements ``engine.tasks.protocols.KVStore``: JSON-ready values, expiry left to the caller.

    The protocol carries no clock, so the creation/update dates come from ``clock``
    (handed in by whoever builds the run context).
    """

    def __init__(self, repository: KVRepository, clock: Callable[[], datetime]) -> None:
        self.repository, self.clock = repository, clock

    def get(self, namespace: str, key: str) -> KVEntry | None:
        entry = self.repository.get_any(namespace, key)
        return _entry(entry) if entry else None

    def set(self, namespace: str, entry: KVEntry) -> None:
        self.repository.set(namespace, entry.key, entry.value, self.clock(),
                            expiration=entry.expiration_date, description=entry.description,
                            kind=KVType(entry.type) if entry.type else None)

    def delete(self, namespace: str, key: str) -> bool:
        return self.repository.delete(namespace, key)

    def namespaces(self, within: str) -> list[str]:
        return self.repository.namespaces(within)

    def list(self, namespace: str, prefix: str | None = None) -> list[KVEntry]:
        return [_entry(e) for e in self.repository.list(namespace, self.clock(), prefix=prefix,
                                                         include_expired=True)]


def _entry(value: KVValue) -> KVEntry:
    return KVEntry(key=value.key, value=encode(value.value, value.type),
                   expiration_date=value.expiration, description=value.description)


def _select(namespace: str, key: str) -> Select[Any]:
    return select(kv).where(kv.c.namespace == namespace, kv.c.key == key)

