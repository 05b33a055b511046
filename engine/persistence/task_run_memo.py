"""L2: parsed task runs by (id, revision), so that loading an execution parses only what changed.

The executor loads an execution with all its task runs on every event. Parsing a row (JSON
decoding plus pydantic validation) is what made that cost grow with the number of task runs
(docs/performance.md). Each row carries a ``revision`` raised by every write of its content,
so a run parsed at revision r is still right while the row says r: the loader reads
``(id, revision)`` of every row and fetches and parses only the others. Task runs are frozen
models, so sharing one between threads and executions is safe.
"""
from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.model.execution import TaskRun
from engine.persistence.codec import with_raw_lease

_UNSEEN = object()  # no lease applied yet (None is a lease: no worker, no deadline)


class TaskRunMemo:
    """A bounded map task run id -> the run parsed at a revision, with the lease columns last
    seen applied (a dispatched or running attempt has a lease the worker updates, not the
    executor); the oldest entries go first.

    A lease is always applied to the run as parsed, never to the previous result: within one
    revision the lease moves both ways (a batch claims an attempt, then gives it back), and what
    a run says must be what its row says, whatever this process saw before.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._runs: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def current(self, task_run_id: str, revision: int, lease: tuple[Any, Any, Any]) -> TaskRun | None:
        """The run at ``revision`` with the lease columns ``(attempt, worker_id, lease_until)``
        applied, done once per lease value; None if the memo has no run at that revision."""
        entry = self._runs.get(task_run_id)
        if entry is None or entry.revision != revision:
            return None
        if entry.lease != lease:
            entry.run, entry.lease = with_raw_lease(entry.parsed, lease), lease
        return entry.run

    def put(self, task_run_id: str, revision: int, run: TaskRun) -> None:
        with self._lock:
            self._runs.pop(task_run_id, None)  # re-inserted last: dict order is age order
            self._runs[task_run_id] = _Entry(revision, run, run)
            if len(self._runs) > self.capacity:
                for stale in list(self._runs)[: len(self._runs) - self.capacity * 3 // 4]:
                    del self._runs[stale]

    def forget(self, task_run_ids: Iterable[str]) -> None:
        with self._lock:
            for task_run_id in task_run_ids:
                self._runs.pop(task_run_id, None)

    def __len__(self) -> int:
        return len(self._runs)


@dataclass
class _Entry:
    revision: int
    parsed: TaskRun  # as its content columns say
    run: TaskRun  # ``parsed`` with ``lease`` applied
    lease: Hashable = _UNSEEN
