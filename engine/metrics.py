"""L3: metrics that only the executor and worker processes can observe, persisted per interval.

The web process serves ``/metrics`` but cannot read another process's memory. So each process
keeps histograms in memory (:class:`MetricsRecorder`) and writes its totals to the
``metric_rollups`` table every ``metrics_flush_seconds`` (a daemon thread, started on the first
observation in each process, so prefork children flush their own). The web process sums the rows
of every process at scrape time. docs/operations.md lists the metrics.

What is observed where:

- executor, ``handle_event``: time spent per event (``EXECUTOR_EVENT``); task runs that reached a
  terminal state in this step (``TASK_RUN_DURATION``, first CREATED to terminal date of the
  record); attempts dispatched in this step (``TASK_RUN_PHASE`` ``created_to_dispatched``: attempt
  CREATED date to the moment the message was published, after commit);
- worker, ``run_task_run``: ``dispatched_to_started`` (the publish time stamped on the message, see
  :data:`message_sent_at`, to the worker picking it up) and ``started_to_finished`` (the attempt's
  run time on the worker, monotonic clock).
"""
from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.executor.commands import Command, DispatchWorkingDirectory
from engine.persistence.metrics import MetricsRepository, Rollup

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.persistence.db import Database

log = logging.getLogger("podium.metrics")

TASK_RUN_DURATION = "podium_task_run_duration_seconds"
TASK_RUN_PHASE = "podium_task_run_phase_seconds"
EXECUTOR_EVENT = "podium_executor_event_seconds"

CREATED_TO_DISPATCHED = "created_to_dispatched"
DISPATCHED_TO_STARTED = "dispatched_to_started"
STARTED_TO_FINISHED = "started_to_finished"

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
BUCKETS: dict[str, tuple[float, ...]] = {TASK_RUN_DURATION: DURATION_BUCKETS,
                                         TASK_RUN_PHASE: LATENCY_BUCKETS + (300.0, 3600.0),
                                         EXECUTOR_EVENT: LATENCY_BUCKETS}
HELP: dict[str, str] = {
    TASK_RUN_DURATION: "Task runs that ended, by final state: first CREATED to terminal date.",
    TASK_RUN_PHASE: "Latency of each phase of a task run attempt (created_to_dispatched, "
                    "dispatched_to_started, started_to_finished).",
    EXECUTOR_EVENT: "Time the executor spent applying one event (lock, decide, save, dispatch), by event.",
}

#: Epoch seconds at which the message now being handled was published (set by the Celery layer
#: from the ``podium_sent_at`` header; None when unknown, e.g. inline dispatch in tests).
message_sent_at: ContextVar[float | None] = ContextVar("podium_message_sent_at", default=None)


def labels_key(labels: dict[str, str]) -> str:
    """Canonical text of a label set: ``k1=v1,k2=v2`` sorted by key (values have no commas)."""
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def parse_labels(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if part)


def bound_text(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


@dataclass
class _Series:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    count: int = 0
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        value = max(0.0, value)  # clocks of two machines may disagree by a little
        index = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        self.counts[index] += 1
        self.count += 1
        self.total += value

    def rollup(self, name: str, labels: str) -> Rollup:
        bounds = [bound_text(b) for b in self.bounds] + ["+Inf"]
        return Rollup(name, labels, dict(zip(bounds, self.counts, strict=True)), self.count, self.total)


class MetricsRecorder:
    """In-memory histograms of one process, flushed to the database per interval.

    ``flush_seconds`` 0 flushes on every observation (tests); ``db`` None keeps them in memory only.
    """

    def __init__(self, db: Database | None, *, flush_seconds: float = 10.0, source: str | None = None) -> None:
        self._repo = MetricsRepository(db) if db is not None else None
        self.flush_seconds = flush_seconds
        self._source = source
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._pid: int | None = None

    @property
    def source(self) -> str:
        """This process's rows: host, pid, and a random part (a pid is reused after a restart)."""
        pid = os.getpid()
        if self._source is None or self._pid != pid:
            if self._pid is not None and self._pid != pid:  # a forked child starts from zero
                self._series = {}
            self._source = f"{socket.gethostname()[:80]}:{pid}:{uuid.uuid4().hex[:8]}"
            self._pid = pid
            if self._repo is not None and self.flush_seconds > 0:
                _start_flusher(self)
        return self._source

    def observe(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            _ = self.source
            key = (name, labels_key(labels))
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(BUCKETS.get(name, LATENCY_BUCKETS))
            series.observe(value)
            self._dirty = True
        if self.flush_seconds <= 0:
            self.flush()

    def snapshot(self) -> list[Rollup]:
        with self._lock:
            return [series.rollup(name, labels) for (name, labels), series in self._series.items()]

    def flush(self) -> None:
        """Writes this process's totals; a failure is logged and retried at the next flush."""
        if self._repo is None:
            return
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            source = self.source
            rollups = [series.rollup(name, labels) for (name, labels), series in self._series.items()]
        try:
            self._repo.save(source, rollups, datetime.now(UTC))
        except Exception as err:  # noqa: BLE001 - metrics must never break the executor or a worker
            with self._lock:
                self._dirty = True
            log.warning("cannot write metrics: %s", err)

    # -- what the executor and workers observe -------------------------------------------------

    def executor_step(self, event: str, seconds: float, before: Execution, after: Execution,
                      changed: Sequence[str], dispatched: Iterable[str], now: datetime) -> None:
        """One ``handle_event``: its duration, the task runs it ended and the attempts it dispatched."""
        self.observe(EXECUTOR_EVENT, seconds, event=event)
        if not changed:
            return
        old = {run.id: run for run in before.task_run_list}
        new = {run.id: run for run in after.task_run_list}
        for run_id in changed:
            run, was = new.get(run_id), old.get(run_id)
            if run is None or not run.state.current.is_terminated:
                continue
            if was is not None and was.state.current.is_terminated:
                continue
            start, end = run.state.start_date, run.state.end_date
            if start is not None and end is not None:
                self.observe(TASK_RUN_DURATION, (end - start).total_seconds(), state=run.state.current.value)
        for run_id in dispatched:
            run = new.get(run_id)
            if run is not None and run.attempts and run.attempts[-1].state.start_date is not None:
                created = run.attempts[-1].state.start_date
                self.observe(TASK_RUN_PHASE, (now - created).total_seconds(), phase=CREATED_TO_DISPATCHED)

    def attempt_ran(self, picked_up_at: float, run_seconds: float) -> None:
        """A worker ran an attempt: picked up at ``picked_up_at`` (epoch), for ``run_seconds``."""
        sent = message_sent_at.get()
        if sent is not None:
            self.observe(TASK_RUN_PHASE, picked_up_at - sent, phase=DISPATCHED_TO_STARTED)
        self.observe(TASK_RUN_PHASE, run_seconds, phase=STARTED_TO_FINISHED)


def _start_flusher(recorder: MetricsRecorder) -> None:
    """A daemon thread flushing ``recorder`` every interval; it ends when the recorder is gone."""
    ref = weakref.ref(recorder)
    interval = recorder.flush_seconds

    def loop() -> None:
        while True:
            time.sleep(interval)
            current = ref()
            if current is None:
                return
            current.flush()
            del current

    threading.Thread(target=loop, name="podium-metrics-flush", daemon=True).start()


def dispatched_task_run_ids(commands: Iterable[Command]) -> list[str]:
    """Task run ids that the step's commands send to workers."""
    ids: list[str] = []
    for command in commands:
        if isinstance(command, DispatchWorkingDirectory):
            ids.append(command.task_run_id)
        else:
            ids.extend(getattr(command, "task_run_ids", ()))
    return ids
