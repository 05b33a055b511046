"""L3: the lease deadlines every process shares, and the executor's side of the result outbox.

A worker claims the attempts it runs, renews their leases and writes their results to the
outbox (``worker.lease_keeper``, the worker's side); beat resubmits what lapsed and re-sends
results nobody applied (``engine.services.timers``); the executor takes the waiting results of an
execution in the step that applies one of them (``take_waiting_results``).

Deadlines all derive from one setting, ``worker.lease_seconds`` (L): heartbeat every L/3, a claimed
attempt is lost L after its last heartbeat, an unclaimed one is re-dispatched 2L after dispatch
(then with doubling delays), an unapplied result is re-sent after L (docs/reliability.md).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from engine.executor import events as ev
from engine.persistence import Session
from engine.services.messages import decode_event
from engine.services.runtime import Env

# How many waiting results one executor step applies at most: bounds the step's transaction.
RESULTS_PER_STEP = 500


def lease_seconds(env: Env) -> float:
    return float(env.settings.worker.lease_seconds)


def dispatch_deadline(env: Env, now: datetime) -> datetime:
    """How long a dispatched attempt may wait for a worker before beat sends it again."""
    return now + timedelta(seconds=2 * lease_seconds(env))


def forget_applied(env: Env, event: ev.Event, session: Session) -> None:
    """In the executor's transaction: the event was applied (or found stale), so drop what would
    make beat send it again: the claimed row of a fired timer (a result's outbox row is dropped by
    ``take_waiting_results``)."""
    if isinstance(event, ev.TimerFired):
        env.timers.delete(timer_id(event.kind, event.task_run_id), session=session)


class AppliedResults:
    """The results this process applied together with another one (``take_waiting_results``), so
    that their own messages, arriving later, are dropped without locking and loading the execution.

    Bounded: a key forgotten (or applied by another executor process) only costs the full path,
    which finds the result stale. Keys are added after the commit that applied them."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def contains(self, event: ev.Event) -> bool:
        if not isinstance(event, ev.TaskRunResult) or not event.state.is_terminated:
            return False
        with self._lock:
            return (event.task_run_id, event.attempt_number) in self._keys

    def add(self, events: list[ev.TaskRunResult]) -> None:
        with self._lock:
            for event in events:
                self._keys[(event.task_run_id, event.attempt_number)] = None
            while len(self._keys) > self.capacity:
                self._keys.popitem(last=False)


def take_waiting_results(env: Env, execution_id: str, event: ev.Event | None, session: Session
                         ) -> list[ev.TaskRunResult]:
    """The other results of the execution waiting in the outbox (all of them for ``event`` None
    or a ``LeaseExpired``), decoded and dropped in the executor's transaction with ``event``'s own
    (one DELETE): a fan-out's results are applied in one step, not one step each. A lease expiry
    takes them too: the end of a chain link whose announcement was lost decides whether the next
    link is still waiting for it or must be sent again."""
    if event is not None and not isinstance(event, (ev.TaskRunResult, ev.LeaseExpired)):
        return []
    # Only a terminal event is its own row: a RUNNING report stepped after the attempt's end was
    # written must take that end as a waiting result, or the row is deleted unapplied (lost when
    # the end's own message was left to another thread's turn).
    own = (event.task_run_id, event.attempt_number) \
        if isinstance(event, ev.TaskRunResult) and event.state.is_terminated else None
    taken = env.leases.take_results(execution_id, own, limit=RESULTS_PER_STEP, session=session)
    return [decode_event(dict(result.event)) for result in taken]


def timer_id(kind: ev.TimerKind, task_run_id: str) -> str:
    """The id of the executor timer of ``kind`` for a task run (one per kind and task run)."""
    return f"{kind.value}:{task_run_id}"
