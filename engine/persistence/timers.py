"""L2 adapter: durable timers and the concurrency queue.

Timers replace Celery ETA/countdown (which runs twice past the Redis visibility timeout):
the executor stores a wake-up here and a loop calls ``due(now)``. Claiming takes a lease
instead of deleting, so a crashed claimer's timers come due again once the lease ends;
the handler deletes a timer when it is done. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets
several loops claim side by side; on SQLite the ``BEGIN IMMEDIATE`` write lock serialises them.

The queue holds executions QUEUED by a flow's concurrency limit, oldest first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected, insert_for, is_postgres
from engine.persistence.tables import execution_queue, timers

DEFAULT_LEASE = timedelta(minutes=1)


@dataclass(frozen=True)
class Timer:
    """A wake-up: ``kind`` says what to do (``resume``, ``retry``, ``schedule``...)."""

    id: str
    due_at: datetime
    kind: str
    execution_id: str | None = None
    task_run_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    claimed_until: datetime | None = None


class TimerRepository(Repository):
    def add(self, timer: Timer, *, session: Session | None = None) -> None:
        """Stores the timer; the same id again replaces it (and drops any claim).

        Deterministic ids (``pause:{taskRunId}``) make re-adding after a crash harmless.
        """
        values = {"id": timer.id, "due_at": timer.due_at, "kind": timer.kind,
                  "execution_id": timer.execution_id, "task_run_id": timer.task_run_id,
                  "payload": timer.payload, "claimed_until": None}
        with self._tx(session) as tx:
            statement = insert_for(tx, timers).values(**values)
            tx.execute(statement.on_conflict_do_update(
                index_elements=[timers.c.id],
                set_={c: statement.excluded[c] for c in values if c != "id"}))

    def due(self, now: datetime, *, limit: int = 100,
            lease: timedelta = DEFAULT_LEASE) -> list[Timer]:
        """Claims up to ``limit`` due, unclaimed timers until ``now + lease``; oldest first.

        Runs in its own transaction on purpose: the claim must be committed to protect
        the timers from other claimers.
        """
        query = (select(timers)
                 .where(timers.c.due_at <= now,
                        timers.c.claimed_until.is_(None) | (timers.c.claimed_until <= now))
                 .order_by(timers.c.due_at, timers.c.id).limit(limit))
        with self.db.transaction() as tx:
            if is_postgres(tx):
                query = query.with_for_update(skip_locked=True)
            rows = tx.execute(query).all()
            if not rows:
                return []
            until = now + lease
            tx.execute(update(timers).where(timers.c.id.in_([r.id for r in rows]))
                       .values(claimed_until=until))
        return [_timer(row, claimed_until=until) for row in rows]

    def release(self, timer_id: str, *, session: Session | None = None) -> bool:
        """Drops a claim so the timer is due again at once (the handler gave up)."""
        with self._tx(session) as tx:
            return bool(affected(tx.execute(update(timers).where(timers.c.id == timer_id)
                                   .values(claimed_until=None))))

    def get(self, timer_id: str, *, session: Session | None = None) -> Timer | None:
        with self._tx(session, write=False) as tx:
            row = tx.execute(select(timers).where(timers.c.id == timer_id)).first()
        return _timer(row) if row else None

    def for_execution(self, execution_id: str, *,
                      session: Session | None = None) -> list[Timer]:
        with self._tx(session, write=False) as tx:
            rows = tx.execute(select(timers).where(timers.c.execution_id == execution_id)
                              .order_by(timers.c.due_at, timers.c.id)).all()
        return [_timer(row) for row in rows]

    def delete(self, timer_id: str, *, session: Session | None = None) -> bool:
        with self._tx(session) as tx:
            return bool(affected(tx.execute(delete(timers).where(timers.c.id == timer_id))))

    def delete_for_execution(self, execution_id: str, *, session: Session | None = None) -> int:
        with self._tx(session) as tx:
            return affected(tx.execute(delete(timers)
                                  .where(timers.c.execution_id == execution_id)))


def _timer(row: Row[Any], claimed_until: datetime | None = None) -> Timer:
    return Timer(id=row.id, due_at=row.due_at, kind=row.kind, execution_id=row.execution_id,
                 task_run_id=row.task_run_id, payload=row.payload,
                 claimed_until=claimed_until or row.claimed_until)


class QueueRepository(Repository):
    """Executions waiting for a concurrency slot of their flow, first in first out."""

    def enqueue(self, namespace: str, flow_id: str, execution_id: str, now: datetime, *,
                session: Session | None = None) -> int:
        """Adds the execution at the end; returns its position (an increasing number)."""
        with self._tx(session) as tx:
            return int(tx.execute(execution_queue.insert().values(
                namespace=namespace, flow_id=flow_id, execution_id=execution_id, enqueued_at=now)
                .returning(execution_queue.c.position)).scalar_one())

    def pop(self, namespace: str, flow_id: str, *, session: Session | None = None) -> str | None:
        """Removes and returns the oldest queued execution id of the flow, or None."""
        query = (select(execution_queue.c.position, execution_queue.c.execution_id)
                 .where(execution_queue.c.namespace == namespace,
                        execution_queue.c.flow_id == flow_id)
                 .order_by(execution_queue.c.position).limit(1))
        with self._tx(session) as tx:
            if is_postgres(tx):
                query = query.with_for_update(skip_locked=True)
            row = tx.execute(query).first()
            if row is None:
                return None
            tx.execute(delete(execution_queue).where(execution_queue.c.position == row.position))
            return str(row.execution_id)

    def remove(self, execution_id: str, *, session: Session | None = None) -> bool:
        """Takes one execution out of the queue (unqueue, kill, delete)."""
        with self._tx(session) as tx:
            return bool(affected(tx.execute(delete(execution_queue)
                                   .where(execution_queue.c.execution_id == execution_id))))

    def count(self, namespace: str, flow_id: str, *, session: Session | None = None) -> int:
        with self._tx(session, write=False) as tx:
            return int(tx.execute(select(func.count()).select_from(execution_queue).where(
                execution_queue.c.namespace == namespace,
                execution_queue.c.flow_id == flow_id)).scalar_one())

    def flows(self, *, session: Session | None = None) -> list[tuple[str, str]]:
        """(namespace, flow id) of every flow with queued executions."""
        with self._tx(session, write=False) as tx:
            return [(str(r.namespace), str(r.flow_id)) for r in tx.execute(
                select(execution_queue.c.namespace, execution_queue.c.flow_id).distinct()).all()]

    def list(self, namespace: str, flow_id: str, *, session: Session | None = None) -> list[str]:
        """Queued execution ids of the flow, oldest first."""
        with self._tx(session, write=False) as tx:
            return [str(r.execution_id) for r in tx.execute(
                select(execution_queue.c.execution_id)
                .where(execution_queue.c.namespace == namespace,
                       execution_queue.c.flow_id == flow_id)
                .order_by(execution_queue.c.position)).all()]
