"""L2 adapter: the metrics task runs reported (Kestra's MetricEntry), written once per attempt
and read by execution (``podium execution show``)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected
from engine.persistence.records import MetricEntry as MetricEntry
from engine.persistence.records import metric_entry as _entry
from engine.persistence.tables import task_run_metrics


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

