"""L2 adapter: what a backfill writes in bulk, inside the caller's transaction.

A backfill step claims up to hundreds of fire times and inserts as many executions; one
``executemany`` per table and batch instead of three statements per execution keeps a ten-year
daily backfill within a few seconds (docs/performance.md). The fire-time keys are the ``fired``
rows of :class:`~engine.persistence.triggers.FiredRepository`, the same the schedule claims.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, case, func, select, text, update
from sqlalchemy.orm import Session

from engine.model.execution import Execution
from engine.persistence.base import Repository, affected, insert_for, is_postgres
from engine.persistence.codec import execution_row, task_run_row
from engine.persistence.tables import execution_labels, executions, fired, task_runs, trigger_state
from engine.state import State


class BackfillRepository(Repository):
    """Every method works in the given session: the caller commits the whole step at once."""

    def lock(self, session: Session, namespace: str, flow_id: str, trigger_id: str) -> None:
        """Serialises the steps of one backfill until the commit (SQLite's write lock already does)."""
        if is_postgres(session):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"podium-backfill:{namespace}.{flow_id}.{trigger_id}"})

    def save_cursor(self, session: Session, namespace: str, flow_id: str, trigger_id: str,
                    cursor: dict[str, Any], now: datetime) -> None:
        """Writes the ``backfill`` column only (the schedule's own columns stay as they are);
        creates the trigger's state row if it has none yet."""
        keys = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        changed = session.execute(update(trigger_state).where(*_match(trigger_state, keys))
                                  .values(backfill=cursor, updated=now))
        if affected(changed):
            return
        statement = insert_for(session, trigger_state).values(**keys, backfill=cursor, disabled=False,
                                                              data={}, updated=now)
        session.execute(statement.on_conflict_do_update(
            index_elements=[trigger_state.c[k] for k in keys], set_={"backfill": cursor, "updated": now}))

    def claim_many(self, session: Session, namespace: str, flow_id: str, trigger_id: str,
                   claims: Sequence[tuple[datetime, str]], now: datetime) -> set[datetime]:
        """Claims each ``(fire time, execution id)``; returns the fire times this call won."""
        if not claims:
            return set()
        keys = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        rows = [{**keys, "fire_time": at, "execution_id": execution_id, "created": now}
                for at, execution_id in claims]
        # A plain executemany (prepared, pipelined on psycopg) skips the keys already taken; a
        # key taken meanwhile by an uncommitted transaction makes the insert wait for it. Then
        # one range read tells which keys carry our execution ids: those are the ones we won.
        # (INSERT ... RETURNING over many rows costs 5x more on PostgreSQL: docs/performance.md.)
        session.execute(insert_for(session, fired).on_conflict_do_nothing(), rows)
        times = [at for at, _ in claims]
        query = (select(fired.c.fire_time, fired.c.execution_id)
                 .where(*_match(fired, keys), fired.c.fire_time >= min(times), fired.c.fire_time <= max(times)))
        ours = dict(claims)
        return {at for at, execution_id in session.execute(query) if ours.get(at) == execution_id}

    def reassign(self, session: Session, namespace: str, flow_id: str, trigger_id: str,
                 fire_time: datetime, execution_id: str) -> None:
        """Points a claimed fire time at a new execution (a re-run of a failed one)."""
        keys = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        session.execute(update(fired).where(*_match(fired, keys), fired.c.fire_time == fire_time)
                        .values(execution_id=execution_id))

    def create_executions(self, session: Session, created: Sequence[Execution]) -> None:
        """Inserts new executions, their labels and task runs, one ``executemany`` per table."""
        if not created:
            return
        session.execute(executions.insert(), [execution_row(e) for e in created])
        labels = [{"execution_id": e.id, "key": k, "value": v} for e in created for k, v in e.label_map.items()]
        if labels:
            session.execute(execution_labels.insert(), labels)
        runs = [task_run_row(run, i) for e in created for i, run in enumerate(e.task_run_list)]
        if runs:
            session.execute(task_runs.insert(), runs)

    def window_counts(self, namespace: str, flow_id: str, trigger_id: str, start: datetime,
                      end: datetime, ended: frozenset[State]) -> tuple[int, int]:
        """(executions recorded for the fire times in ``[start, end]``, those in ``ended``)."""
        keys = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        is_ended = case((executions.c.state.in_([s.value for s in ended]), 1), else_=0)
        query = (select(func.count(), func.coalesce(func.sum(is_ended), 0))
                 .select_from(fired.join(executions, executions.c.id == fired.c.execution_id))
                 .where(*_match(fired, keys), fired.c.fire_time >= start, fired.c.fire_time <= end))
        with self._tx(None, write=False) as tx:
            total, done = tx.execute(query).one()
        return int(total), int(done)


def _match(table: Table, keys: dict[str, str]) -> list[ColumnElement[bool]]:
    return [table.c[name] == value for name, value in keys.items()]
