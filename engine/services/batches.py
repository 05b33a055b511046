"""L3: a batch: the attempts of one execution that one worker message runs, one after the other.

A no-op task run used to cost a worker, besides the task itself, one transaction to claim it, one
to put its result in the outbox and two publishes (the result to the executor, the next message),
and the executor one step per result: five to ten times what raw Celery pays per task. A batch
pays those once for all its attempts:

- its attempts are read (one lineage query) and claimed (one UPDATE) in one transaction;
- their results go to the outbox together (``ResultBuffer``) and one event tells the executor,
  which takes the others from the outbox in the same step (``take_waiting_results``).

Batches come from two places: a fan-out dispatched in chunks (``podium.run_task_runs``, see
messaging/dispatch.py) and a chain link running the links after it in its own process instead of
publishing each (``podium.run_task_run`` looks at its Celery chain).

The budget, ``worker.batch_seconds`` (B), keeps what batches save from costing parallelism and
fairness: once a batch has run for B, it gives back what it has not started (``Batch``): a chunk's
attempts go back to the queue, cut in chunks again (``stop`` runs from a watcher thread too, so a
long task never holds its chunk's siblings back by its own duration); a chain goes on as a normal
Celery chain from the next link, behind the other messages in the queue. Results are written
every B too, so a batch's progress shows with the same delay. A claim held by a batch is never
held longer than B before its attempt runs or is given back, far less than the lease.

A chunk is also impatient: a fan-out first goes out in few chunks (messaging/dispatch.py), which is
cheapest while its tasks are quick; once one attempt, or the chunk on attempts that were not quick
(``QUICK_SECONDS``), has run ``SPREAD_AFTER_SECONDS``, it gives back what it has not started at
once, and that goes out spread over more chunks, so tasks that are not quick reach idle worker
slots after that short wait, not after B.
"""
from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.persistence.logs import LogEntry
from engine.services.messages import encode_event

if TYPE_CHECKING:
    from engine.services.leases import LeaseKeeper

log = logging.getLogger("podium.worker")
#: A chunk runs its attempts one after the other only while they are quick: once one attempt has
#: run this long, or the chunk has on attempts of QUICK_SECONDS or more on average, the attempts it
#: has not started go back to the queue, for idle worker slots.
SPREAD_AFTER_SECONDS = 0.05
#: No-op attempts take about a millisecond, several on a loaded machine: a chunk of those stays
#: whole until the budget, as spreading them would cost more messages, claims and writes than it saves.
QUICK_SECONDS = 0.005


def outlasted(patience: float, *, ran: float, current: float, taken: int) -> bool:
    """Whether a chunk that ``ran`` seconds, ``current`` of them on the attempt it runs now (its
    ``taken``-th), outlasted its patience: that attempt has run it, or the chunk has, on attempts
    that were not quick on average."""
    return current >= patience or (ran >= patience and ran >= taken * QUICK_SECONDS)


class Batch:
    """The attempts of one message, taken in order until done or until the budget is spent.

    ``give_back`` receives the attempts left when the budget ran out (from the watcher thread
    while an attempt still runs, or from ``take``), once an attempt, or the batch on attempts that
    were not quick, has run ``patience`` (a chunk: its rest is better spread over idle worker
    slots), or when the batch stopped early
    (``close``). ``spent`` runs on the watcher thread when the budget runs out while an attempt
    still runs: the results held so far are written then, before their leases could lapse behind
    a long attempt."""

    def __init__(self, refs: Sequence[TaskRunRef], budget: float,
                 give_back: Callable[[list[TaskRunRef]], None], spent: Callable[[], None] = lambda: None,
                 patience: float | None = None) -> None:
        self._waiting = deque(refs)
        self._give_back, self._spent = give_back, spent
        self._deadline = time.monotonic() + budget
        self._patience = patience
        self._lock = threading.Lock()
        self.taken = 0
        self._started_at = self._taken_at = time.monotonic()  # when the first, the latest attempt was taken
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        if len(refs) > 1:
            # In the caller's context: what it sends keeps its priority, what it logs its ids.
            self._watcher = threading.Thread(target=contextvars.copy_context().run, args=(self._watch,),
                                             daemon=True, name="podium-batch")
            self._watcher.start()

    def _watch(self) -> None:
        """Gives back the rest when the budget is spent or the batch outlasts its patience."""
        try:
            while not self._closed.wait(max(self._next_check() - time.monotonic(), 0.0)):
                now = time.monotonic()
                if now >= self._deadline:
                    self.stop()
                    self._spent()
                    return
                if self._impatient(now):
                    self.stop()
        except Exception:  # a watcher thread has nobody to raise to
            # What was not given back keeps its claim until it lapses (beat resubmits it then);
            # results not written stay held for the batch's last write.
            log.warning("a batch could not give back its rest or write its results yet", exc_info=True)

    def _next_check(self) -> float:
        with self._lock:
            if self._patience is None or not self._waiting:
                return self._deadline  # nothing left to spread: only the results to write
            slow = self._started_at + max(self._patience, self.taken * QUICK_SECONDS)
            return min(self._deadline, self._taken_at + self._patience, slow)

    def _impatient(self, now: float) -> bool:
        if self._patience is None:
            return False
        with self._lock:
            return outlasted(self._patience, ran=now - self._started_at, current=now - self._taken_at,
                             taken=self.taken)

    def take(self) -> TaskRunRef | None:
        """The next attempt to run; None when there is none left or the budget is spent (the
        first attempt is always run: it is the message's own)."""
        with self._lock:
            if self._waiting and (self.taken == 0 or time.monotonic() < self._deadline):
                now = time.monotonic()
                if self.taken == 0:
                    self._started_at = now
                self.taken += 1
                self._taken_at = now
                return self._waiting.popleft()
        self.stop()
        return None

    def stop(self) -> None:
        """Gives back every attempt not taken yet, but the message's own before it was taken."""
        self._cut(keep=1)

    def close(self) -> None:
        """Ends the batch once the watcher is done: a give-back it started is complete (released
        claims) before the message ends, and the next link's message cannot find them still held."""
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join()
        self._cut(keep=0)

    def _cut(self, keep: int) -> None:
        with self._lock:
            kept = keep if self.taken == 0 else 0
            rest = list(self._waiting)[kept:]
            self._waiting = deque(list(self._waiting)[:kept])
        if rest:
            self._give_back(rest)


class ResultBuffer:
    """The terminal results of a batch's attempts: written to the outbox together every
    ``every`` seconds (and on ``flush``), each time with one event for the executor."""

    def __init__(self, keeper: LeaseKeeper, execution_id: str, every: float, join: TaskRunRef | None = None) -> None:
        self._keeper, self._execution_id, self._every = keeper, execution_id, every
        self._join = join
        # The event of the write that claimed the fan-out's join, not sent: the join runs next.
        self.joined: dict[str, Any] | None = None
        self.written = False
        self._held: list[tuple[ev.TaskRunResult, list[LogEntry], datetime]] = []
        self._since = time.monotonic()
        self._lock = threading.Lock()  # the batch's timer flushes too

    def add(self, event: ev.TaskRunResult, logs: Sequence[LogEntry], ended: datetime) -> None:
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
                    if self._keeper.report_many(self._execution_id, held, self._join):
                        self.joined = encode_event(held[0][0])
                    self.written = True
                except BaseException:
                    self._held[:0] = held  # kept for the next write
                    raise


class Announcement:
    """The event of a fan-out's last results, held while the worker runs the join they claimed:
    the join's own result, if it comes within ``after`` seconds, announces them too (the executor
    takes every waiting result in one step); otherwise they are announced then, so the fan-out's
    progress never waits for a long join."""

    def __init__(self, keeper: LeaseKeeper, execution_id: str, event: dict[str, Any], after: float) -> None:
        self._send = lambda: keeper.announce(execution_id, event)
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
        self._send()

    def settle(self, superseded: bool) -> None:
        """The join is done: ``superseded`` if its result was written (and announced)."""
        self._timer.cancel()
        if superseded:
            with self._lock:
                self._sent = True
        self._announce()
