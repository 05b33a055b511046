"""L2 adapter: task run leases and the worker's result outbox (docs/reliability.md).

A task run row carries the lease of its current attempt in three columns: ``attempt`` (its
number), ``worker_id`` (who claimed it; NULL while the message waits for a worker) and
``lease_until`` (when beat acts if nobody renewed it). The executor writes them through its
normal saves (``codec.lease_columns``); the methods here are the cheap direct writes of the
other processes, each one conditional UPDATE of one row, never an execution lock:

- ``mark_dispatched``: the executor, in the transaction that dispatches: a deadline for a worker
  to claim the attempt;
- ``claim`` / ``renew``: a worker takes the attempt (only one can) and heartbeats it;
- ``expired`` / ``postpone``: beat finds expired leases and pushes each deadline forward before
  telling the executor, so two beats (or two ticks) never report one expiry twice.

The outbox (``task_run_results``) keeps the terminal result a worker reports until the executor
applied it (``take_results`` in the executor's transaction); beat re-sends what is left.
"""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from engine.persistence.attempt_records import AttemptRecord, append_records
from engine.persistence.base import Repository, affected, among, constants, is_postgres, upsert
from engine.persistence.tables import executions, task_run_results, task_runs
from engine.state import TERMINATED

_ENDED = constants([state.value for state in TERMINATED])


@dataclass(frozen=True)
class ExpiredLease:
    execution_id: str
    task_run_id: str
    attempt: int
    worker_id: str | None  # None: dispatched but never claimed (the message may be lost)
    lease_until: datetime
    attempt_created: datetime | None  # when the attempt was created (the re-dispatch backoff)
    task_id: str
    flow: tuple[str, str, int]  # (namespace, flow id, revision) of the execution


@dataclass(frozen=True)
class PendingResult:
    execution_id: str
    task_run_id: str
    attempt: int
    event: dict[str, Any]
    created: datetime
    replay_at: datetime


class LeaseRepository(Repository):
    # -- the executor ---------------------------------------------------------------------------
    def mark_dispatched(self, task_run_ids: Iterable[str], deadline: datetime, *,
                        session: Session | None = None) -> int:
        """Gives each unclaimed attempt without a deadline until ``deadline`` to be claimed."""
        ids = list(task_run_ids)
        if not ids:
            return 0
        with self._tx(session) as tx:
            return affected(tx.execute(_MARK_DISPATCHED[is_postgres(tx)], {"_ids": ids, "_deadline": deadline}))

    # -- workers --------------------------------------------------------------------------------
    def claim(self, task_run_id: str, attempt: int, worker_id: str, until: datetime, *,
              session: Session | None = None) -> bool:
        """Takes attempt ``attempt`` for ``worker_id``; False if another worker has it or the
        attempt is no longer the current one (superseded, ended)."""
        with self._tx(session) as tx:
            return bool(affected(tx.execute(_CLAIM, {"_id": task_run_id, "_attempt": attempt,
                                                     "_worker": worker_id, "_until": until})))

    def claim_many(self, attempts: Sequence[tuple[str, int]], worker_id: str, until: datetime, *,
                   session: Session) -> set[str]:
        """``claim`` of several attempts (task run id, attempt) in one statement; the task run ids
        taken. A batch (worker/batches.py) claims its attempts together."""
        if len(attempts) == 1:
            (task_run_id, attempt), = attempts
            return {task_run_id} if self.claim(task_run_id, attempt, worker_id, until, session=session) else set()
        rows = session.execute(_CLAIM_MANY, {"_attempts": [tuple(pair) for pair in attempts], "_worker": worker_id,
                                             "_until": until})
        return {row.id for row in rows}

    def unclaimed(self, task_run_ids: Sequence[str], *, session: Session | None = None) -> builtins.list[str]:
        """Those of ``task_run_ids`` no worker holds, in the same order."""
        with self._tx(session, write=False) as tx:
            held = {row.id for row in tx.execute(select(task_runs.c.id).where(
                task_runs.c.id.in_(list(task_run_ids)), task_runs.c.worker_id.is_not(None)))}
        return [task_run_id for task_run_id in task_run_ids if task_run_id not in held]

    def release(self, attempts: Sequence[tuple[str, int]], worker_id: str, deadline: datetime) -> None:
        """Gives claimed attempts that were not started back: unclaimed again, to be claimed by
        ``deadline`` (a batch handing back what it will not run)."""
        if not attempts:
            return
        with self.db.transaction() as tx:
            tx.execute(_RELEASE, [{"_id": task_run_id, "_attempt": attempt, "_worker": worker_id,
                                   "_deadline": deadline} for task_run_id, attempt in attempts])

    def renew(self, task_run_id: str, attempt: int, worker_id: str, until: datetime) -> bool:
        """A heartbeat; False once the attempt is not this worker's current one any more."""
        with self.db.transaction() as tx:
            return bool(affected(tx.execute(_RENEW, {"_id": task_run_id, "_attempt": attempt,
                                                     "_worker": worker_id, "_until": until})))

    # -- beat -----------------------------------------------------------------------------------
    def expired(self, now: datetime, *, limit: int = 500) -> builtins.list[ExpiredLease]:
        """Live attempts whose lease ended at ``now``, oldest first; attempts whose result waits in
        the outbox are left to the result replay."""
        pending = exists().where(task_run_results.c.task_run_id == task_runs.c.id,
                                 task_run_results.c.attempt == task_runs.c.attempt)
        query = (select(task_runs.c.id, task_runs.c.execution_id, task_runs.c.attempt,
                        task_runs.c.worker_id, task_runs.c.lease_until, task_runs.c.attempts, task_runs.c.task_id,
                        executions.c.namespace, executions.c.flow_id, executions.c.flow_revision)
                 .join(executions, executions.c.id == task_runs.c.execution_id)
                 .where(task_runs.c.lease_until <= now, task_runs.c.state.not_in(_ENDED), ~pending)
                 .order_by(task_runs.c.lease_until).limit(limit))
        with self.db.statement() as tx:
            rows = tx.execute(query).all()
        return [ExpiredLease(row.execution_id, row.id, row.attempt, row.worker_id, row.lease_until,
                             _attempt_created(row.attempts), row.task_id,
                             (row.namespace, row.flow_id, row.flow_revision)) for row in rows]

    def postpone(self, task_run_id: str, attempt: int, now: datetime, until: datetime) -> bool:
        """Moves an expired lease to ``until``; False if someone renewed or postponed it first."""
        with self.db.transaction() as tx:
            return bool(affected(tx.execute(
                update(task_runs).where(task_runs.c.id == task_run_id, task_runs.c.attempt == attempt,
                                        task_runs.c.lease_until <= now)
                .values(lease_until=until))))

    def expire_unclaimed(self, at: datetime) -> int:
        """Brings the claim deadline of every dispatched attempt no worker claimed back to ``at``:
        the broker restarted empty and their messages are gone (beat sends them again at once)."""
        with self.db.transaction() as tx:
            return affected(tx.execute(
                update(task_runs).where(task_runs.c.worker_id.is_(None), task_runs.c.lease_until > at,
                                        task_runs.c.state.not_in(_ENDED))
                .values(lease_until=at)))

    # -- the result outbox -----------------------------------------------------------------------
    def put_result(self, execution_id: str, task_run_id: str, attempt: int, event: dict[str, Any],
                   now: datetime, replay_at: datetime, *, logs: Sequence[AttemptRecord] = ()) -> None:
        """Keeps a terminal result until the executor applied it (the same attempt again replaces),
        with the attempt's log lines not written yet: one commit for both."""
        self.put_results([PendingResult(execution_id, task_run_id, attempt, event, now, replay_at)], logs=logs)

    def put_results(self, results: Sequence[PendingResult], *, logs: Sequence[AttemptRecord] = (),
                    session: Session | None = None) -> None:
        """``put_result`` of several results (a batch's), with their log lines and metrics: one commit."""
        if not results:
            return
        with self._tx(session) as tx:
            append_records(self.db, logs, session=tx)
            rows = [{"task_run_id": result.task_run_id, "attempt": result.attempt, "execution_id": result.execution_id,
                     "event": result.event, "created": result.created, "replay_at": result.replay_at}
                    for result in results]
            tx.execute(upsert(tx, task_run_results, ("task_run_id", "attempt"), ("event", "created", "replay_at")),
                       rows[0] if len(rows) == 1 else rows)

    def take_results(self, execution_id: str, own: tuple[str, int] | None, *, limit: int,
                     session: Session) -> builtins.list[PendingResult]:
        """In the executor's transaction: deletes the execution's oldest ``limit`` results and the
        one of ``own`` (task run id, attempt) in one statement; returns those others than ``own``,
        oldest first (the executor applies them together)."""
        own_id, own_attempt = own if own is not None else (None, None)
        rows = session.execute(_TAKE, {"_execution": execution_id, "_limit": limit, "_own_id": own_id,
                                       "_own_attempt": own_attempt})
        taken = [PendingResult(row.execution_id, row.task_run_id, row.attempt, row.event, row.created,
                               row.replay_at) for row in rows if (row.task_run_id, row.attempt) != own]
        return sorted(taken, key=lambda result: result.created)

    def waiting_events(self, execution_id: str) -> builtins.list[dict[str, Any]]:
        """The encoded results of the execution that wait in the outbox, without taking them."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(select(task_run_results.c.event).where(task_run_results.c.execution_id == execution_id))
            return [dict(row.event) for row in rows]

    def waiting_results(self, execution_id: str, limit: int) -> int:
        """How many results of the execution wait in the outbox, counted up to ``limit``."""
        with self.db.statement() as tx:
            return int(tx.execute(_COUNT_WAITING, {"_execution": execution_id, "_limit": limit}).scalar_one())

    def due_results(self, now: datetime, *, limit: int = 500) -> builtins.list[PendingResult]:
        query = (select(task_run_results).where(task_run_results.c.replay_at <= now)
                 .order_by(task_run_results.c.replay_at).limit(limit))
        with self.db.statement() as tx:
            rows = tx.execute(query).all()
        return [PendingResult(row.execution_id, row.task_run_id, row.attempt, row.event, row.created,
                              row.replay_at) for row in rows]

    def postpone_result(self, task_run_id: str, attempt: int, now: datetime, until: datetime) -> bool:
        with self.db.transaction() as tx:
            return bool(affected(tx.execute(
                update(task_run_results).where(task_run_results.c.task_run_id == task_run_id,
                                               task_run_results.c.attempt == attempt,
                                               task_run_results.c.replay_at <= now)
                .values(replay_at=until))))

    def replay_results_at(self, at: datetime) -> int:
        """Makes every result in the outbox due at ``at`` (the broker restarted empty: the events
        that announced them are gone)."""
        with self.db.transaction() as tx:
            return affected(tx.execute(update(task_run_results).where(task_run_results.c.replay_at > at)
                                       .values(replay_at=at)))

    def pending_results(self, *, session: Session | None = None) -> int:
        with self._tx(session, write=False) as tx:
            return len(tx.execute(select(task_run_results.c.task_run_id)).all())

    def attempt_owner(self, execution_id: str, task_run_id: str, *,
                      session: Session) -> tuple[str, str, str | None] | None:
        """(namespace, flow id, task id) of a task run, for a log line of its attempt; the task id
        is None for a task run not saved yet (a WorkingDirectory's child); None without the execution."""
        flow = session.execute(select(executions.c.namespace, executions.c.flow_id)
                               .where(executions.c.id == execution_id)).first()
        if flow is None:
            return None
        task_id = session.execute(select(task_runs.c.task_id).where(task_runs.c.id == task_run_id)).scalar()
        return flow.namespace, flow.flow_id, task_id

    def lease(self, task_run_id: str) -> tuple[int, str | None, datetime | None] | None:
        """(attempt, worker_id, lease_until) of a task run row, for tests and diagnostics."""
        with self.db.transaction(write=False) as tx:
            row = tx.execute(select(task_runs.c.attempt, task_runs.c.worker_id, task_runs.c.lease_until)
                             .where(task_runs.c.id == task_run_id)).first()
        return (row.attempt, row.worker_id, row.lease_until) if row else None


# Built once, bound per call (see engine/persistence/executions.py).
_CLAIM = (update(task_runs).where(task_runs.c.id == bindparam("_id"), task_runs.c.attempt == bindparam("_attempt"),
                                  task_runs.c.worker_id.is_(None), task_runs.c.state.not_in(_ENDED))
          .values(worker_id=bindparam("_worker"), lease_until=bindparam("_until")))
_CLAIM_MANY = (update(task_runs).where(tuple_(task_runs.c.id, task_runs.c.attempt)
                                       .in_(bindparam("_attempts", expanding=True)),
                                       task_runs.c.worker_id.is_(None), task_runs.c.state.not_in(_ENDED))
               .values(worker_id=bindparam("_worker"), lease_until=bindparam("_until")).returning(task_runs.c.id))
_RELEASE = (update(task_runs).where(task_runs.c.id == bindparam("_id"), task_runs.c.attempt == bindparam("_attempt"),
                                    task_runs.c.worker_id == bindparam("_worker"), task_runs.c.state.not_in(_ENDED))
            .values(worker_id=None, lease_until=bindparam("_deadline")))
_RENEW = (update(task_runs).where(task_runs.c.id == bindparam("_id"), task_runs.c.attempt == bindparam("_attempt"),
                                  task_runs.c.worker_id == bindparam("_worker"), task_runs.c.state.not_in(_ENDED))
          .values(lease_until=bindparam("_until")))
# Indexed by is_postgres(session).
_MARK_DISPATCHED = tuple(update(task_runs).where(condition, task_runs.c.worker_id.is_(None),
                                                 task_runs.c.lease_until.is_(None), task_runs.c.state.not_in(_ENDED))
                         .values(lease_until=bindparam("_deadline")) for condition in among(task_runs.c.id, "_ids"))
_OLDEST = (select(task_run_results.c.task_run_id, task_run_results.c.attempt)
           .where(task_run_results.c.execution_id == bindparam("_execution"))
           .order_by(task_run_results.c.created).limit(bindparam("_limit")))
_TAKE = (delete(task_run_results)
         .where(task_run_results.c.execution_id == bindparam("_execution"),
                or_(tuple_(task_run_results.c.task_run_id, task_run_results.c.attempt).in_(_OLDEST),
                    and_(task_run_results.c.task_run_id == bindparam("_own_id"),
                         task_run_results.c.attempt == bindparam("_own_attempt"))))
         .returning(*task_run_results.c))
_COUNT_WAITING = select(func.count()).select_from(
    select(task_run_results.c.task_run_id).where(task_run_results.c.execution_id == bindparam("_execution"))
    .limit(bindparam("_limit")).subquery())


def _attempt_created(attempts: Any) -> datetime | None:
    try:
        date = attempts[-1]["state"]["histories"][0]["date"]
        return datetime.fromisoformat(str(date).replace("Z", "+00:00"))
    except (IndexError, KeyError, TypeError, ValueError):
        return None


__all__ = ["ExpiredLease", "LeaseRepository", "PendingResult"]
