"""L3: beat's side of the executor: due timers become executor events, and the reaper of lost work.

Everything here only *reports* to the executor (events) or starts queued executions under the
flow's slot lock; the executor stays the only writer of states. See docs/reliability.md.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.dispatch import queue_of
from engine.errors import PodiumError
from engine.executor import events as ev
from engine.persistence.leases import ExpiredLease
from engine.services.leases import lease_seconds
from engine.services.messages import encode_event
from engine.services.runtime import Env
from engine.state import State

if TYPE_CHECKING:
    from engine.services.executions import ExecutionService

log = logging.getLogger("podium.reaper")
_BATCH = 500
_BROKER_PROBE_EVERY = timedelta(seconds=1)


def _millis(moment: datetime) -> datetime:
    # the lease as the executor compares it (LeaseExpired carries it as text)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class TimerService:
    def __init__(self, env: Env, executions: ExecutionService | None = None) -> None:
        self.env = env
        self.executions = executions
        self.leases = env.leases
        # Beat-local backoff for the sweep that has no row of its own to postpone.
        self._starts_sent = _Backoff(2 * self._lease)
        self._next_queue_sweep: datetime | None = None
        self._broker_run: str | None = None  # the broker's run id seen last (broker_incarnation)
        self._broker_restarted_at: datetime | None = None
        self._next_broker_probe: datetime | None = None

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=lease_seconds(self.env))

    def fire_due(self, now: datetime) -> int:
        """Claims the timers due at ``now`` and sends each to the executor as ``TimerFired``.

        A claim is a lease: the executor deletes the timer in the transaction that applies the
        event; if the event is lost (broker restarted) or this process dies, the timer is due again
        when the claim ends (2 × lease), and the event it becomes is idempotent in the executor.
        """
        fired = 0
        for timer in self.env.timers.due(now, limit=_BATCH, lease=2 * self._lease):
            if timer.execution_id is None or timer.task_run_id is None:
                continue  # not an executor timer (beat's own kinds are handled by beat)
            event = ev.TimerFired(timer.task_run_id, ev.TimerKind(timer.kind), dict(timer.payload or {}))
            self.env.dispatcher.send_event(timer.execution_id, encode_event(event))
            fired += 1
        return fired

    def reap(self, now: datetime) -> int:
        """One round of the reaper: expired leases, unapplied results, lost Start events, pending
        commands, queued executions whose release was lost. Returns how many events or commands
        it sent again."""
        self._notice_broker_restart(now)
        sent = self._expired_leases(now)
        sent += self._replay_results(now)
        sent += self._lost_starts(now)
        sent += self._pending_commands(now)
        self._sweep_queues(now)
        return sent

    def _notice_broker_restart(self, now: datetime) -> None:
        """A broker that started again since the last round (a new Redis run id) lost what it
        held, with no persistence: every unclaimed attempt and every result waiting in the outbox
        is due at once, and the unclaimed ones are sent again even behind a busy queue (their
        messages cannot be in it). Waiting for the queue to drain would leave lost work standing
        for as long as the load lasts."""
        incarnation = getattr(self.env.dispatcher, "broker_incarnation", None)
        if incarnation is None or (self._next_broker_probe is not None and now < self._next_broker_probe):
            return
        self._next_broker_probe = now + _BROKER_PROBE_EVERY  # a question to the broker, not every tick
        current = incarnation()
        if current is None:
            return  # down, or cannot say: the next round looks again
        previous, self._broker_run = self._broker_run, current
        if previous is None or previous == current:
            return
        at = _millis(now)
        attempts = self.leases.expire_unclaimed(at)
        results = self.leases.replay_results_at(at)
        self._broker_restarted_at = at
        self._starts_sent = _Backoff(2 * self._lease)  # the Start events it sent are gone too
        log.warning("the broker restarted (run %s, then %s): %d unclaimed attempt(s) and %d result(s) "
                    "are sent again", previous, current, attempts, results)

    def _lost_with_the_broker(self, lease: ExpiredLease) -> bool:
        """An unclaimed attempt whose deadline came before the broker's restart: its message was
        in the broker (or being sent to it) and is gone."""
        restarted = self._broker_restarted_at
        return restarted is not None and lease.lease_until <= restarted

    def _expired_leases(self, now: datetime) -> int:
        sent = 0
        depths: dict[str, int | None] = {}  # messages waiting per worker queue, asked once a round
        for lease in self.leases.expired(now, limit=_BATCH):
            if lease.worker_id is None:
                # Never claimed: the message may be lost, or still waiting behind busy workers;
                # look again after a delay that doubles with the attempt's age.
                age = now - (lease.attempt_created or lease.lease_until)
                until = now + max(2 * self._lease, age)
                if not self._lost_with_the_broker(lease) and self._queue_busy(lease, depths):
                    # Messages wait in its queue: it is most likely one of them. Sending it again
                    # would double a backlog (a 10,000-item ForEach) and cost the executor a step
                    # per attempt; a lost message shows once the queue has drained.
                    self.leases.postpone(lease.task_run_id, lease.attempt, now, _millis(until))
                    continue
            else:
                # Claimed and not renewed: the worker is gone. Give the executor a lease to act.
                until = now + self._lease
            until = _millis(until)
            if not self.leases.postpone(lease.task_run_id, lease.attempt, now, until):
                continue  # renewed, or another beat took it
            event = ev.LeaseExpired(lease.task_run_id, lease.attempt, lease.worker_id,
                                    until.isoformat() if lease.worker_id else None)
            log.warning("lease of attempt %s of task run %s (worker %s) expired at %s; reporting it",
                        lease.attempt, lease.task_run_id, lease.worker_id or "none: never claimed",
                        lease.lease_until.isoformat())
            self.env.dispatcher.send_event(lease.execution_id, encode_event(event))
            sent += 1
        return sent

    def _queue_busy(self, lease: ExpiredLease, depths: dict[str, int | None]) -> bool:
        """Whether messages wait in the worker queue of the lease's task (False if unknown)."""
        depth_of = getattr(self.env.dispatcher, "queue_depth", None)
        if depth_of is None or self.executions is None:
            return False
        try:
            queue = queue_of(self.executions.catalog.get(*lease.flow).find_task(lease.task_id))
        except PodiumError:
            return False  # the flow is gone: the executor will find out
        if queue not in depths:
            depths[queue] = depth_of(queue)
        return bool(depths[queue])

    def _replay_results(self, now: datetime) -> int:
        sent = 0
        for pending in self.leases.due_results(now, limit=_BATCH):
            until = now + max(self._lease, now - pending.created)
            if not self.leases.postpone_result(pending.task_run_id, pending.attempt, now, until):
                continue
            log.warning("result of attempt %s of task run %s not applied yet; sending it again",
                        pending.attempt, pending.task_run_id)
            self.env.dispatcher.send_event(pending.execution_id, pending.event)
            sent += 1
        return sent

    def _lost_starts(self, now: datetime) -> int:
        """CREATED executions whose Start event may be lost (Start is idempotent)."""
        horizon = now - 2 * self._lease
        page = self.env.executions.list(state=State.CREATED, started_before=horizon, size=_BATCH)
        self._starts_sent.keep_only({execution.id for execution in page.items})
        sent = 0
        for execution in page.items:
            if self._starts_sent.due(execution.id, now):
                self.env.dispatcher.send_event(execution.id, encode_event(ev.Start()))
                sent += 1
        return sent

    def _pending_commands(self, now: datetime) -> int:
        """Commands of executor steps whose reply did not come (engine/services/pending_commands.py)."""
        return self.executions.pending.replay_due(now) if self.executions is not None else 0

    def _sweep_queues(self, now: datetime) -> None:
        """Starts queued executions of flows with a free slot: repairs a release lost with a
        crashed executor. Every lease period, not every tick."""
        if self.executions is None or (self._next_queue_sweep is not None and now < self._next_queue_sweep):
            return
        self._next_queue_sweep = now + self._lease
        for namespace, flow_id in self.env.queue.flows():
            self.executions.slots.release(namespace, flow_id)


class _Backoff:
    """When beat may send something again that has no row of its own to postpone: at once the
    first time, then after ``first``, then after twice as long each time."""

    def __init__(self, first: timedelta) -> None:
        self.first = first.total_seconds()
        self._sent: dict[str, tuple[datetime, float]] = {}

    def due(self, key: str, now: datetime) -> bool:
        last = self._sent.get(key)
        if last is not None and now < last[0] + timedelta(seconds=last[1]):
            return False
        self._sent[key] = (now, self.first if last is None else 2 * last[1])
        return True

    def keep_only(self, keys: set[str]) -> None:
        """Forgets the keys no longer in question (their work was done)."""
        for key in set(self._sent) - keys:
            del self._sent[key]
