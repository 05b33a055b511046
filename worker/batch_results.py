"""What a batch writes: its results together, and the fan-out's announcement held while its join runs.

The rules (when a batch writes, when the announcement goes) are told in ``worker.batches``; these
are their mechanics.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.persistence.attempt_records import AttemptRecord
from worker.lease_keeper import LeaseKeeper


class ResultBuffer:
    """The terminal results of a batch's attempts: written to the outbox together every
    ``every`` seconds (and on ``flush``), each time with one event for the executor."""

    def __init__(self, keeper: LeaseKeeper, execution_id: str, every: float, join: TaskRunRef | None = None) -> None:
        self._keeper, self._execution_id, self._every = keeper, execution_id, every
        self._join = join
        # The event of the write that claimed the fan-out's join, not sent: the join runs next.
        self.joined: dict[str, Any] | None = None
        self.written = False
        self._held: list[tuple[ev.TaskRunResult, list[AttemptRecord], datetime]] = []
        self._since = time.monotonic()
        self._lock = threading.Lock()  # the batch's timer flushes too

    def add(self, event: ev.TaskRunResult, logs: Sequence[AttemptRecord], ended: datetime) -> None:
        with self._lock:
            self._held.append((event, list(logs), ended))
            due = time.monotonic() - self._since >= self._every
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            self._since = time.monotonic()
            # Written under the lock: two flushes never overtake each other (result order).
            if held:
                try:
                    reported = self._keeper.report_many(self._execution_id, held, self._join)
                    if reported.joined:
                        self.joined = reported.event
                    self.written = True
                except BaseException:
                    self._held[:0] = held  # kept for the next write
                    raise


class HeldResults:
    """The result buffers of the batches this process runs, by execution: ``log.Fetch`` has them
    written before it reads the execution's logs (its tasks may run in other threads)."""

    def __init__(self) -> None:
        self._by_execution: dict[str, set[ResultBuffer]] = {}
        self._lock = threading.Lock()

    def add(self, execution_id: str, results: ResultBuffer) -> None:
        with self._lock:
            self._by_execution.setdefault(execution_id, set()).add(results)

    def discard(self, execution_id: str, results: ResultBuffer) -> None:
        with self._lock:
            self._by_execution[execution_id].discard(results)
            if not self._by_execution[execution_id]:
                del self._by_execution[execution_id]

    def flush(self, execution_id: str) -> None:
        with self._lock:
            held = list(self._by_execution.get(execution_id, ()))
        for results in held:
            results.flush()


class Announcement:
    """The event of a fan-out's last results, held while the worker runs the join they claimed:
    the join's own result, if it comes within ``after`` seconds, announces them too (the executor
    takes every waiting result in one step); otherwise they are announced then, so the fan-out's
    progress never waits for a long join."""

    def __init__(self, keeper: LeaseKeeper, execution_id: str, event: dict[str, Any], after: float) -> None:
        self._keeper, self._execution_id, self._event = keeper, execution_id, event
        self._sent = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(after, self._announce)
        self._timer.daemon = True
        self._timer.start()

    def _announce(self) -> None:
        with self._lock:
            if self._sent:
                return
            self._sent = True
        self._keeper.announce(self._execution_id, self._event)

    def settle(self, superseded: bool) -> None:
        """The join is done: ``superseded`` if its result was written (and announced)."""
        self._timer.cancel()
        if superseded:
            with self._lock:
                self._sent = True
        self._announce()
