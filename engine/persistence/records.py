"""L2 adapter: the records the repositories return, and how a row becomes one, without SQLAlchemy.

The repositories (SQLAlchemy) and the SQLite reads of the CLI (``sqlite_reads``, the stdlib
``sqlite3``) build their records here, so both give the same values; importing SQLAlchemy costs
half a second, more than a whole read-only command may take.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from engine.durations import parse_duration
from engine.kv_types import KVType
from engine.log_levels import LogLevel
from engine.model.execution import Execution, Record

# Severity order for ``min_level`` (Kestra's Level: TRACE < DEBUG < INFO < WARN < ERROR).
LEVELS = [LogLevel.TRACE, LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR]


class PersistenceError(Exception):
    """Root of the persistence errors."""


class NotFound(PersistenceError, LookupError):
    """A record that does not exist (or is deleted)."""


@dataclass(frozen=True)
class Page:
    items: list[Execution]
    total: int
    page: int
    size: int


class LogEntry(Record):
    """One log line; ``to_json()`` gives Kestra's LogEntry JSON (``attemptNumber``...)."""

    namespace: str
    flow_id: str
    execution_id: str | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    trigger_id: str | None = None
    attempt_number: int | None = None
    level: LogLevel
    timestamp: datetime
    message: str
    # Set once stored: a stable cursor for "logs after the last one I saw" (log streaming).
    id: int | None = None


def levels_from(min_level: LogLevel | str | None) -> list[str]:
    """The level names at or above ``min_level`` (all of them for None)."""
    if min_level is None:
        return [level.value for level in LEVELS]
    return [level.value for level in LEVELS[LEVELS.index(LogLevel(min_level)):]]


def log_entry(row: Mapping[Any, Any]) -> LogEntry:
    """A ``logs`` row as its record."""
    return LogEntry(id=row["id"], namespace=row["namespace"], flow_id=row["flow_id"],
                    execution_id=row["execution_id"], task_run_id=row["task_run_id"],
                    task_id=row["task_id"], trigger_id=row["trigger_id"],
                    attempt_number=row["attempt"], level=LogLevel(row["level"]),
                    timestamp=row["timestamp"], message=row["message"])


@dataclass(frozen=True)
class MetricEntry:
    """One metric of one task run attempt; ``to_json()`` gives Kestra's MetricEntry JSON."""

    namespace: str
    flow_id: str
    execution_id: str
    task_run_id: str
    task_id: str
    name: str
    type: str
    value: float
    timestamp: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    attempt: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "flowId": self.flow_id, "executionId": self.execution_id,
                "taskRunId": self.task_run_id, "taskId": self.task_id, "attemptNumber": self.attempt,
                "name": self.name, "type": self.type, "value": self.value, "tags": dict(self.tags),
                "timestamp": self.timestamp.isoformat()}


def metric_entry(row: Mapping[Any, Any]) -> MetricEntry:
    """A ``task_run_metrics`` row as its record."""
    return MetricEntry(namespace=row["namespace"], flow_id=row["flow_id"], execution_id=row["execution_id"],
                       task_run_id=row["task_run_id"], task_id=row["task_id"], attempt=row["attempt"],
                       name=row["name"], type=row["type"], value=row["value"], tags=row["tags"] or {},
                       timestamp=row["timestamp"])


class KVExpired(PersistenceError):
    """The key exists but its expiration date has passed."""

    def __init__(self, namespace: str, key: str, expiration: datetime) -> None:
        super().__init__(f"The requested value has expired: key '{key}' in namespace "
                         f"'{namespace}' expired at {expiration.isoformat()}")
        self.namespace, self.key, self.expiration = namespace, key, expiration


@dataclass(frozen=True)
class KVValue:
    namespace: str
    key: str
    value: Any
    type: KVType
    expiration: datetime | None
    created: datetime
    updated: datetime
    description: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expiration is not None and self.expiration <= now


def decode(stored: Any, kind: KVType) -> Any:
    """A stored KV value as the Python type it was set with."""
    if kind is KVType.DATETIME:
        return datetime.fromisoformat(stored)
    if kind is KVType.DATE:
        return date.fromisoformat(stored)
    if kind is KVType.DURATION:
        return parse_duration(stored)
    return stored


def kv_value(row: Mapping[Any, Any]) -> KVValue:
    """A ``kv`` row as its record."""
    kind = KVType(row["type"])
    return KVValue(namespace=row["namespace"], key=row["key"], value=decode(row["value"], kind), type=kind,
                   expiration=row["expiration"], created=row["created"], updated=row["updated"],
                   description=row["description"])


def utc(value: datetime | None) -> datetime | None:
    """A datetime read from either database, as UtcDateTime returns it: tz-aware, in UTC
    (SQLite gives naive UTC values back)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def json_value(stored: str | float | None) -> Any:
    """A JSON column as SQLite gives it back, read as SQLAlchemy's JSON type reads it: text is JSON,
    NULL is None, and a number is itself (a column declared JSON has numeric affinity, so SQLite
    stores the text ``42`` as the integer 42)."""
    return json.loads(stored) if isinstance(stored, str) else stored


@dataclass(frozen=True)
class TriggerState:
    """Where a trigger stands. ``backfill`` is Kestra's cursor (start, end, current, paused...)."""

    namespace: str
    flow_id: str
    trigger_id: str
    next_date: datetime | None = None
    last_date: datetime | None = None
    last_execution_id: str | None = None
    backfill: dict[str, Any] | None = None
    disabled: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    updated: datetime | None = None
    last_error: str | None = None
    last_error_date: datetime | None = None


def trigger_state_of(row: Mapping[Any, Any]) -> TriggerState:
    """A ``trigger_state`` row as its record."""
    return TriggerState(namespace=row["namespace"], flow_id=row["flow_id"], trigger_id=row["trigger_id"],
                        next_date=row["next_date"], last_date=row["last_date"],
                        last_execution_id=row["last_execution_id"], backfill=row["backfill"],
                        disabled=row["disabled"], data=row["data"], updated=row["updated"],
                        last_error=row["last_error"], last_error_date=row["last_error_date"])


@dataclass(frozen=True)
class FlowRevision:
    namespace: str
    flow_id: str
    revision: int
    source: str
    deleted: bool
    created: datetime


def flow_revision(row: Mapping[Any, Any]) -> FlowRevision:
    """A ``flows`` row as its record."""
    return FlowRevision(namespace=row["namespace"], flow_id=row["flow_id"], revision=row["revision"],
                        source=row["source"], deleted=row["deleted"], created=row["created"])
