"""L2 adapter: the metrics task runs reported (Kestra's MetricEntry), written once per attempt
and read by execution (``podium execution show``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected
from engine.persistence.tables import task_run_metrics


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


class TaskMetricRepository(Repository):
    def append(self, entries: Iterable[MetricEntry], *, session: Session | None = None) -> int:
        """Stores the entries in one multi-row insert; returns how many."""
        rows = [_row(entry) for entry in entries]
        if rows:
            with self._tx(session) as tx:
                tx.execute(task_run_metrics.insert(), rows)
        return len(rows)

    def for_execution(self, execution_id: str, *, session: Session | None = None) -> list[MetricEntry]:
        """The execution's metrics in the order they were written."""
        query = (select(task_run_metrics).where(task_run_metrics.c.execution_id == execution_id)
                 .order_by(task_run_metrics.c.id))
        with self._tx(session, write=False) as tx:
            return [_entry(row._mapping) for row in tx.execute(query).all()]

    def delete_for_execution(self, execution_id: str, *, session: Session | None = None) -> int:
        with self._tx(session) as tx:
            return affected(tx.execute(delete(task_run_metrics)
                                       .where(task_run_metrics.c.execution_id == execution_id)))


def _row(entry: MetricEntry) -> dict[str, Any]:
    return {"namespace": entry.namespace, "flow_id": entry.flow_id, "execution_id": entry.execution_id,
            "task_run_id": entry.task_run_id, "task_id": entry.task_id, "attempt": entry.attempt,
            "name": entry.name[:255], "type": entry.type, "value": entry.value, "tags": dict(entry.tags),
            "timestamp": entry.timestamp}


def _entry(row: Mapping[Any, Any]) -> MetricEntry:
    return MetricEntry(namespace=row["namespace"], flow_id=row["flow_id"], execution_id=row["execution_id"],
                       task_run_id=row["task_run_id"], task_id=row["task_id"], attempt=row["attempt"],
                       name=row["name"], type=row["type"], value=row["value"], tags=row["tags"] or {},
                       timestamp=row["timestamp"])
