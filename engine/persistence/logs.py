"""L2 adapter: execution logs (Kestra's LogEntry), appended in batches and read by execution."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.log_levels import LogLevel
from engine.persistence.base import Repository, affected
from engine.persistence.records import LEVELS as LEVELS
from engine.persistence.records import LogEntry as LogEntry
from engine.persistence.records import levels_from
from engine.persistence.records import log_entry as _entry
from engine.persistence.tables import logs


class LogRepository(Repository):
    def append(self, entries: Iterable[LogEntry], *, session: Session | None = None) -> int:
        """Stores the entries in one multi-row insert; returns how many."""
        rows = [_row(entry) for entry in entries]
        if rows:
            with self._tx(session) as tx:
                tx.execute(logs.insert(), rows)
        return len(rows)

    def for_execution(self, execution_id: str, *, min_level: LogLevel | str | None = None,
                      task_run_id: str | None = None, task_id: str | None = None,
                      after_id: int | None = None, limit: int | None = None,
                      session: Session | None = None) -> list[LogEntry]:
        """The execution's logs in the order they were written, optionally filtered."""
        query = (select(logs).where(logs.c.execution_id == execution_id,
                                    logs.c.level.in_(levels_from(min_level)))
                 .order_by(logs.c.id))
        if task_run_id is not None:
            query = query.where(logs.c.task_run_id == task_run_id)
        if task_id is not None:
            query = query.where(logs.c.task_id == task_id)
        if after_id is not None:
            query = query.where(logs.c.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        with self._tx(session, write=False) as tx:
            return [_entry(row._mapping) for row in tx.execute(query).all()]

    def for_flow(self, namespace: str, flow_id: str, *, trigger_id: str | None = None, limit: int = 100,
                 session: Session | None = None) -> list[LogEntry]:
        """The latest ``limit`` logs of the flow written outside any execution (its triggers'), oldest first."""
        query = (select(logs).where(logs.c.namespace == namespace, logs.c.flow_id == flow_id,
                                    logs.c.execution_id.is_(None))
                 .order_by(logs.c.id.desc()).limit(limit))
        if trigger_id is not None:
            query = query.where(logs.c.trigger_id == trigger_id)
        with self._tx(session, write=False) as tx:
            return [_entry(row._mapping) for row in reversed(tx.execute(query).all())]

    def delete_for_execution(self, execution_id: str, *, session: Session | None = None) -> int:
        with self._tx(session) as tx:
            return affected(tx.execute(delete(logs).where(logs.c.execution_id == execution_id)))

    def as_reader(self) -> RepositoryLogReader:
        """This repository behind the task layer's ``LogReader`` protocol (``log.Fetch``)."""
        return RepositoryLogReader(self)


class RepositoryLogReader:
    """Implements ``engine.tasks.protocols.LogReader``."""

    def __init__(self, repository: LogRepository) -> None:
        self.repository = repository

    def find(self, namespace: str, flow_id: str, execution_id: str, *, task_id: str | None,
             min_level: LogLevel) -> Iterable[Mapping[str, Any]]:
        entries = self.repository.for_execution(execution_id, min_level=min_level, task_id=task_id)
        return [entry.to_json() for entry in entries
                if entry.namespace == namespace and entry.flow_id == flow_id]


def _row(entry: LogEntry) -> dict[str, Any]:
    return {"namespace": entry.namespace, "flow_id": entry.flow_id,
            "execution_id": entry.execution_id, "task_run_id": entry.task_run_id,
            "task_id": entry.task_id, "trigger_id": entry.trigger_id,
            "attempt": entry.attempt_number, "level": LogLevel(entry.level).value,
            "timestamp": entry.timestamp, "message": entry.message}

