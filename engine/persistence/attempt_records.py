"""L2 adapter: what one attempt leaves besides its result (log lines and metrics), written together.

A quick attempt's lines and metrics are held in memory and written in the transaction that puts its
result in the outbox (``worker.attempt_logs``), so a chunk of attempts costs the same statements
whatever its size: one multi-row insert for the lines and one for the metrics, not one per attempt.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from engine.persistence.db import Database
from engine.persistence.logs import LogRepository
from engine.persistence.records import LogEntry, MetricEntry
from engine.persistence.task_metrics import TaskMetricRepository

AttemptRecord = LogEntry | MetricEntry


def append_records(db: Database, records: Iterable[AttemptRecord], *, session: Session | None = None) -> None:
    held = list(records)
    LogRepository(db).append([r for r in held if isinstance(r, LogEntry)], session=session)
    TaskMetricRepository(db).append([r for r in held if isinstance(r, MetricEntry)], session=session)
