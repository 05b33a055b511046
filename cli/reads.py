"""L4: what the read-only commands open: where the instance keeps its records, and a read access
to them, with no services, no Celery app, no plugin registry and no renderer.

Without a settings file or a ``PODIUM_*`` variable the instance is where the settings' defaults
put it, and pydantic-settings (a third of a second) is not loaded. On an SQLite file at the
shipped schema the records are read with the stdlib ``sqlite3`` (``engine.persistence.sqlite_reads``);
any other database goes through the repositories, which also create or migrate the schema.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cli.client import settings_from
from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.log_levels import LogLevel
    from engine.model.execution import Execution
    from engine.persistence.db import Database
    from engine.persistence.records import FlowRevision, KVValue, LogEntry, MetricEntry, Page, TriggerState
    from engine.state import State

# The defaults of engine.settings.Settings for these fields (tests/cli/test_startup.py compares them).
DEFAULT_DATA_DIR = Path(".podium")


@dataclass(frozen=True)
class Place:
    """Where an instance keeps its records."""

    data_dir: Path
    database_url: str
    storage_dir: Path
    timezone: str = "UTC"
    plugin_defaults: tuple[dict[str, Any], ...] = ()


def configured() -> bool:
    """Whether a ``PODIUM_*`` variable is set (pydantic-settings ignores case; PODIUM_CONFIG names a file)."""
    return any(name.upper().startswith("PODIUM_") for name in os.environ)


def instance_place(config_file: str | None, data_dir: Path | None) -> Place:
    """The instance's folders and database, as the settings resolve them."""
    if config_file is None and not configured():
        folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
        return Place(folder, f"sqlite:///{(folder / 'podium.db').resolve()}", (folder / "storage").resolve())
    settings = settings_from(config_file, data_dir)
    return Place(settings.data_dir, settings.resolved_database_url, settings.resolved_storage_dir,
                 settings.timezone, tuple(settings.plugin_defaults))


class Reads(Protocol):
    """The reads of the read-only commands (one implementation per way of reaching the database)."""

    def executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                   state: State | None = None, size: int = 25) -> Page: ...

    def execution(self, execution_id: str) -> Execution | None: ...

    def logs(self, execution_id: str, *, min_level: LogLevel | str | None = None) -> list[LogEntry]: ...

    def metrics(self, execution_id: str) -> list[MetricEntry]: ...

    def kv_list(self, namespace: str, now: datetime) -> list[KVValue]: ...

    def kv_get(self, namespace: str, key: str, now: datetime) -> KVValue | None: ...

    def flows(self, namespace: str | None = None) -> list[FlowRevision]: ...

    def flow(self, namespace: str, flow_id: str) -> FlowRevision | None: ...

    def trigger_states(self) -> list[TriggerState]: ...

    def trigger_logs(self, namespace: str, flow_id: str, *, trigger_id: str | None = None,
                     limit: int = 100) -> list[LogEntry]: ...


class RepositoryReads:
    """``Reads`` through the SQLAlchemy repositories (PostgreSQL, or a schema to migrate first)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                   state: State | None = None, size: int = 25) -> Page:
        from engine.persistence.executions import ExecutionRepository

        return ExecutionRepository(self.db).list(namespace=namespace, flow_id=flow_id, state=state, size=size)

    def execution(self, execution_id: str) -> Execution | None:
        from engine.persistence.executions import ExecutionRepository

        return ExecutionRepository(self.db).get(execution_id)

    def logs(self, execution_id: str, *, min_level: LogLevel | str | None = None) -> list[LogEntry]:
        from engine.persistence.logs import LogRepository

        return LogRepository(self.db).for_execution(execution_id, min_level=min_level)

    def metrics(self, execution_id: str) -> list[MetricEntry]:
        from engine.persistence.task_metrics import TaskMetricRepository

        return TaskMetricRepository(self.db).for_execution(execution_id)

    def kv_list(self, namespace: str, now: datetime) -> list[KVValue]:
        from engine.persistence.kv_entries import KVRepository

        return KVRepository(self.db).list(namespace, now)

    def kv_get(self, namespace: str, key: str, now: datetime) -> KVValue | None:
        from engine.persistence.kv_entries import KVRepository

        return KVRepository(self.db).get(namespace, key, now)

    def flows(self, namespace: str | None = None) -> list[FlowRevision]:
        from engine.persistence.flows import FlowRepository

        return FlowRepository(self.db).list(namespace)

    def flow(self, namespace: str, flow_id: str) -> FlowRevision | None:
        from engine.persistence.flows import FlowRepository

        return FlowRepository(self.db).get(namespace, flow_id)

    def trigger_states(self) -> list[TriggerState]:
        from engine.persistence.triggers import TriggerStateRepository

        return TriggerStateRepository(self.db).list()

    def trigger_logs(self, namespace: str, flow_id: str, *, trigger_id: str | None = None,
                     limit: int = 100) -> list[LogEntry]:
        from engine.persistence.logs import LogRepository

        return LogRepository(self.db).for_flow(namespace, flow_id, trigger_id=trigger_id, limit=limit)


def open_reads(place: Place) -> Reads:
    """Read access to the instance at ``place`` (``instance_place`` of ``--config`` / ``--data-dir``)."""
    from engine.persistence.sqlite_reads import open_sqlite_reads

    reads = open_sqlite_reads(place.database_url)
    if reads is not None:
        return reads
    return RepositoryReads(open_database(place))  # a database to create or migrate, or not SQLite


def open_database(place: Place) -> Database:
    """The instance's database, created or brought up to date as the services would, for a command
    that reads or writes records without the services (no Celery, no plugin registry)."""
    from engine.persistence.db import Database

    place.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(place.database_url)
    db.upgrade()
    return db


def execution_of(reads: Reads, execution_id: str) -> Execution:
    """The execution, or the error ``podium execution show`` gives for an unknown id."""
    execution = reads.execution(execution_id)
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    return execution
