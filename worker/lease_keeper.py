"""The worker's side of "no lost work" (docs/reliability.md); the executor's and beat's side is
``engine.services.leases``.

- ``claim_many(refs)``: before running attempts the worker takes them with one conditional UPDATE of
  the task run row; a duplicate message (redelivery, re-dispatch of the same attempt) finds it
  taken and is dropped, so an attempt runs on one worker at a time.
- ``start_heartbeat(ref, cancel, announce)``: the process's heartbeat thread sends the RUNNING
  report once the attempt has run ``worker.running_report_after`` seconds (a quicker one reports
  only its end, with its start time), then renews the lease every ``lease_seconds / 3``
  (one UPDATE of the row's ``lease_until``, no execution lock). When the renewal finds the attempt
  gone (beat resubmitted it after missed heartbeats, or it ended) the thread sets ``cancel`` so
  the task stops: a superseded attempt never keeps running next to its successor.
- ``report(execution_id, event)``: a terminal result is written to the outbox first, then sent;
  the executor deletes it when applied, beat re-sends it if the message was lost. A broker that
  is down does not fail the attempt: RUNNING reports are best effort, results are in the outbox.
- ``report_many(..., join)``: a batch's results, and the count-down of a fan-out's join
  (``worker.batches``, "Joins"). A result the database refuses (``engine.persistence.base.refused``:
  outputs too big, a value it cannot store) is written FAILED instead, without its outputs, with
  the reason as an ERROR line of its attempt: written as it was, it would fail again on every
  resubmission of the attempt, forever.

Deadlines all derive from one setting, ``worker.lease_seconds`` (L): heartbeat every L/3, a claimed
attempt is lost L after its last heartbeat, an unclaimed one is re-dispatched 2L after dispatch
(then with doubling delays), an unapplied result is re-sent after L.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.model.task import LogLevel
from engine.persistence import Session
from engine.persistence.attempt_records import AttemptRecord
from engine.persistence.base import refusal, refused
from engine.persistence.leases import PendingResult
from engine.persistence.logs import LogEntry
from engine.services.leases import dispatch_deadline, lease_seconds
from engine.services.messages import decode_event, encode_event
from engine.services.runtime import Env
from engine.state import State

log = logging.getLogger("podium.leases")
#: A terminal result to put in the outbox: its event, its attempt's unwritten log lines, when it ended.
Result = tuple[ev.TaskRunResult, Sequence[AttemptRecord], datetime]
UNSTORABLE = "The result of this attempt cannot be stored ({reason}): the attempt is FAILED, without outputs"


@dataclass(frozen=True)
class Reported:
    """What ``report_many`` wrote: the event that announces the results (the first, as written)
    and whether they claimed the fan-out's join."""

    event: dict[str, Any]
    joined: bool


@dataclass(eq=False)
class _Beat:
    ref: TaskRunRef
    cancel: threading.Event
    announce: Callable[[], None] | None  # the RUNNING report, until it was sent
    due: float  # time.monotonic() of the next announce or renewal
    stopped: bool = False


class Heartbeat:
    """The handle of one attempt's heartbeat; ``stop()`` when the attempt ended."""

    def __init__(self, heartbeats: Heartbeats, beat: _Beat) -> None:
        self._heartbeats, self._beat = heartbeats, beat

    def stop(self) -> None:
        self._heartbeats.remove(self._beat)


class Heartbeats:
    """One daemon thread per process renews the leases of every attempt the process runs.

    One thread for all, not one per attempt: two thread starts per task run (this one and the
    RUNNING report's) would cost a millisecond of a no-op task's few. Renewals are one UPDATE each,
    so one thread keeps up with any number of attempts; a slow one delays the others by less than
    the lease's slack (a lease lasts three renewal intervals)."""

    def __init__(self, renew: Callable[[TaskRunRef], bool], interval: float) -> None:
        self._renew, self._interval = renew, interval
        self._beats: set[_Beat] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, ref: TaskRunRef, cancel: threading.Event, announce: Callable[[], None] | None,
            announce_after: float) -> Heartbeat:
        beat = _Beat(ref, cancel, announce,
                     time.monotonic() + (announce_after if announce is not None else self._interval))
        with self._changed:
            self._beats.add(beat)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="podium-heartbeats")
                self._thread.start()
            self._changed.notify()
        return Heartbeat(self, beat)

    def remove(self, beat: _Beat) -> None:
        with self._changed:
            beat.stopped = True
            self._beats.discard(beat)

    def _run(self) -> None:
        while True:
            announces, renewals = self._next_due()
            for announce in announces:
                # A thread of its own: a send blocked by a broker outage must not hold back the
                # renewals (the lease would lapse and the attempt be resubmitted).
                threading.Thread(target=announce, daemon=True, name="podium-running-report").start()
            for beat in renewals:
                self._renew_one(beat)

    def _next_due(self) -> tuple[list[Callable[[], None]], list[_Beat]]:
        """Waits until some beat is due; returns the RUNNING reports to send and the leases to renew."""
        with self._changed:
            while True:
                now = time.monotonic()
                due = [beat for beat in self._beats if beat.due <= now]
                if due:
                    break
                soonest = min((beat.due for beat in self._beats), default=None)
                self._changed.wait(None if soonest is None else soonest - now)
            announces: list[Callable[[], None]] = []
            renewals: list[_Beat] = []
            for beat in due:
                beat.due = now + self._interval
                if beat.announce is not None:
                    announces.append(beat.announce)
                    beat.announce = None
                else:
                    renewals.append(beat)
            return announces, renewals

    def _renew_one(self, beat: _Beat) -> None:
        ref = beat.ref
        try:
            renewed = self._renew(ref)
        except Exception:  # the database may be briefly away; the lease has slack
            log.warning("heartbeat of %s.%s failed", ref.task_run_id, ref.attempt, exc_info=True)
            return
        if not renewed and not beat.stopped:
            log.warning("attempt %s of task run %s was superseded or ended; stopping it",
                        ref.attempt, ref.task_run_id)
            beat.cancel.set()
            self.remove(beat)


class LeaseKeeper:
    """This worker's claims, heartbeats and result writes (``worker_id`` names the process)."""

    def __init__(self, env: Env, worker_id: str) -> None:
        self.env = env
        self.worker_id = worker_id
        self.repository = env.leases
        self.heartbeats = Heartbeats(self.renew, self.seconds / 3)

    @property
    def seconds(self) -> float:
        return lease_seconds(self.env)

    def _until(self) -> datetime:
        return self.env.clock() + timedelta(seconds=self.seconds)

    def claim_many(self, refs: Sequence[TaskRunRef], *, session: Session) -> set[str]:
        """The claims of a batch's attempts, in one statement: the task run ids taken."""
        if not refs:
            return set()
        return self.repository.claim_many([(ref.task_run_id, ref.attempt) for ref in refs], self.worker_id,
                                          self._until(), session=session)

    def release(self, refs: Sequence[TaskRunRef]) -> None:
        """Gives back claimed attempts a batch will not run: claimable again, with the deadline
        of a dispatched attempt (beat re-sends them if nobody claims them by then)."""
        self.repository.release([(ref.task_run_id, ref.attempt) for ref in refs], self.worker_id,
                                dispatch_deadline(self.env, self.env.clock()))

    def renew(self, ref: TaskRunRef) -> bool:
        """Renews the lease now; False if the attempt is not this worker's any more."""
        return self.repository.renew(ref.task_run_id, ref.attempt, self.worker_id, self._until())

    def start_heartbeat(self, ref: TaskRunRef, cancel: threading.Event,
                        announce: Callable[[], None] | None = None, announce_after: float = 0.0) -> Heartbeat:
        """Renews the lease until stopped; ``announce`` (the RUNNING report) is called once
        ``announce_after`` seconds in, unless the heartbeat was stopped before."""
        return self.heartbeats.add(ref, cancel, announce, announce_after)

    def report(self, execution_id: str, event: ev.TaskRunResult, *, logs: Sequence[AttemptRecord] = ()) -> None:
        """Sends ``event``; a terminal one is put in the outbox first, with the attempt's ``logs``
        not written yet (``worker.attempt_logs``)."""
        if event.state.is_terminated:
            self.report_many(execution_id, [(event, logs, self.env.clock())])
            return
        try:
            self.env.dispatcher.send_event(execution_id, encode_event(event))
        except Exception:  # broker away: RUNNING reports are best effort
            log.warning("could not send the %s report of %s.%s; the lease covers it", event.state.value,
                        event.task_run_id, event.attempt_number, exc_info=True)

    def report_many(self, execution_id: str, results: Sequence[Result], join: TaskRunRef | None = None) -> Reported:
        """Terminal results of one execution (event, its attempt's unwritten logs, when it ended),
        put in the outbox in one transaction and announced by one event, the first: the executor
        applies it with the others waiting in the outbox, oldest first (one step).

        ``join``: the results are children of a fan-out with that join; they count it down in
        the same transaction, and ``joined`` means they were its last successes: the join is
        claimed for this worker, to run now (``worker.batches``). Their event is then not sent:
        the caller announces them (``announce``) unless the join's own result does it first.

        A result the database refuses is written FAILED with the reason instead (``_put_each``):
        the event announced is the one written, so the executor applies what the outbox holds."""
        try:
            reported = self._put(execution_id, results, join)
        except Exception as error:
            if not refused(error):
                raise  # the database is away or busy: the caller keeps the results for a later write
            reported = self._put_each(execution_id, results, join)
        if not reported.joined:
            self.announce(execution_id, reported.event)
        return reported

    def _put(self, execution_id: str, results: Sequence[Result], join: TaskRunRef | None) -> Reported:
        pending = [self._pending(execution_id, event, ended) for event, _, ended in results]
        with self.env.db.transaction() as tx:
            self.repository.put_results(pending, logs=[line for _, logs, _ in results for line in logs], session=tx)
            joined = join is not None and self._count_down(join, [event for event, _, _ in results], tx)
        return Reported(pending[0].event, joined)

    def _put_each(self, execution_id: str, results: Sequence[Result], join: TaskRunRef | None) -> Reported:
        """The results one by one in one transaction, each under a savepoint: those the database
        refuses are written FAILED (``_put_refused``). A write that fails for another reason rolls
        everything back and raises, as ``_put`` would."""
        with self.env.db.transaction() as tx:
            written = [self._put_one(execution_id, result, tx) for result in results]
            joined = join is not None and self._count_down(join, written, tx)
        return Reported(encode_event(written[0]), joined)

    def _put_one(self, execution_id: str, result: Result, tx: Session) -> ev.TaskRunResult:
        event, logs, ended = result
        try:
            self._put_nested(execution_id, result, tx)
            return event
        except Exception as error:
            if not refused(error):
                raise
            reason = refusal(error)
        log.warning("the result of attempt %s of task run %s cannot be stored (%s); it is reported FAILED",
                    event.attempt_number, event.task_run_id, reason)
        failed = dataclasses.replace(event, state=State.FAILED, outputs={})
        line = self._reason_line(execution_id, event, logs, ended, reason, tx)
        try:
            self._put_nested(execution_id, (failed, [*logs, *line], ended), tx)
        except Exception as error:
            if not refused(error):
                raise
            self._put_nested(execution_id, (failed, line, ended), tx)  # its log lines were refused
        return failed

    def _put_nested(self, execution_id: str, result: Result, tx: Session) -> None:
        event, logs, ended = result
        with tx.begin_nested():
            self.repository.put_results([self._pending(execution_id, event, ended)], logs=logs, session=tx)

    def _pending(self, execution_id: str, event: ev.TaskRunResult, ended: datetime) -> PendingResult:
        return PendingResult(execution_id, event.task_run_id, event.attempt_number, encode_event(event),
                             ended, ended + timedelta(seconds=self.seconds))

    def _reason_line(self, execution_id: str, event: ev.TaskRunResult, logs: Sequence[AttemptRecord], ended: datetime,
                     reason: str, tx: Session) -> list[LogEntry]:
        """The ERROR line that says why the attempt failed (none if its execution is gone)."""
        owner = self.repository.attempt_owner(execution_id, event.task_run_id, session=tx)
        if owner is None:
            return []
        namespace, flow_id, task_id = owner
        return [LogEntry(namespace=namespace, flow_id=flow_id, execution_id=execution_id,
                         task_run_id=event.task_run_id, task_id=task_id or event.task_id or
                         next((line.task_id for line in logs), None), attempt_number=event.attempt_number,
                         level=LogLevel.ERROR, timestamp=ended, message=UNSTORABLE.format(reason=reason))]

    def announce(self, execution_id: str, event: dict[str, Any]) -> None:
        """Tells the executor that results wait in the outbox: it takes them all in its next step."""
        try:
            self.env.dispatcher.send_event(execution_id, event)
        except Exception:  # broker away: beat re-sends the results from the outbox
            log.warning("could not announce results of %s; beat will re-send them", execution_id, exc_info=True)

    def waiting_outputs(self, execution_id: str) -> dict[str, dict[str, Any]]:
        """The outputs of the execution's SUCCESS results the executor has not applied yet, by
        task run id (what a join renders before the executor caught up)."""
        events = [decode_event(event) for event in self.repository.waiting_events(execution_id)]
        return {event.task_run_id: dict(event.outputs) for event in events if event.state == State.SUCCESS}

    def _count_down(self, join: TaskRunRef, events: Sequence[ev.TaskRunResult], session: Session) -> bool:
        succeeded = sum(1 for event in events if event.state == State.SUCCESS)
        return self.env.joins.count_down(join.task_run_id, succeeded, succeeded < len(events), session=session) \
            and self.repository.claim(join.task_run_id, join.attempt, self.worker_id, self._until(), session=session)
