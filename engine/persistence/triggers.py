"""L2 adapter: trigger state (next fire time, backfill cursor) and fired-once keys.

``FiredRepository.claim`` makes scheduled executions idempotent: the key
``(namespace, flow, trigger, fire time)`` is inserted with ``ON CONFLICT DO NOTHING``, so a
second beat, or the same beat after a restart, learns the fire time is taken and creates
nothing. Claim in the same session that creates the execution, so both commit together.

``TriggerStateRepository.compare_and_set`` moves a schedule's state only if its ``next_date``
is still the one read, and writes only the columns given: two beats deciding the same row, or
a backfill saving its cursor meanwhile, never overwrite each other. ``record_error`` writes only
the last-error columns, creating the row if the trigger has none yet (a Flow trigger).
"""
from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import String, cast, delete, select, tuple_, update
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected, insert_for
from engine.persistence.records import TriggerState as TriggerState
from engine.persistence.records import trigger_state_of
from engine.persistence.tables import fired, trigger_state


class Unchanged(Enum):
    """The value of a column that :meth:`TriggerStateRepository.compare_and_set` leaves as it is
    (None is a value: a schedule with no date left has no ``next_date``)."""

    KEEP = "keep"


KEEP = Unchanged.KEEP


class TriggerStateRepository(Repository):
    def get(self, namespace: str, flow_id: str, trigger_id: str, *,
            session: Session | None = None) -> TriggerState | None:
        with self._tx(session, write=False) as tx:
            row = tx.execute(select(trigger_state).where(
                trigger_state.c.namespace == namespace, trigger_state.c.flow_id == flow_id,
                trigger_state.c.trigger_id == trigger_id)).first()
        return trigger_state_of(row._mapping) if row else None

    def save(self, state: TriggerState, now: datetime, *,
             session: Session | None = None) -> TriggerState:
        """Creates or replaces the state; ``updated`` becomes ``now``."""
        saved = replace(state, updated=now)
        values = {"namespace": saved.namespace, "flow_id": saved.flow_id,
                  "trigger_id": saved.trigger_id, "next_date": saved.next_date,
                  "last_date": saved.last_date, "last_execution_id": saved.last_execution_id,
                  "backfill": saved.backfill, "disabled": saved.disabled, "data": saved.data,
                  "updated": now, "last_error": saved.last_error, "last_error_date": saved.last_error_date}
        keys = ("namespace", "flow_id", "trigger_id")
        with self._tx(session) as tx:
            statement = insert_for(tx, trigger_state).values(**values)
            tx.execute(statement.on_conflict_do_update(
                index_elements=[trigger_state.c[k] for k in keys],
                set_={c: statement.excluded[c] for c in values if c not in keys}))
        return saved

    def record_error(self, namespace: str, flow_id: str, trigger_id: str, message: str, at: datetime, *,
                     session: Session | None = None) -> None:
        """Sets the trigger's last error and its date, and nothing else of its state."""
        errors = {"last_error": message, "last_error_date": at, "updated": at}
        with self._tx(session) as tx:
            statement = insert_for(tx, trigger_state).values(
                namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, disabled=False, data={},
                **errors)
            tx.execute(statement.on_conflict_do_update(
                index_elements=[trigger_state.c.namespace, trigger_state.c.flow_id, trigger_state.c.trigger_id],
                set_=errors))

    def list(self, namespace: str | None = None, flow_id: str | None = None, *,
             session: Session | None = None) -> builtins.list[TriggerState]:
        query = select(trigger_state).order_by(trigger_state.c.namespace, trigger_state.c.flow_id,
                                               trigger_state.c.trigger_id)
        if namespace is not None:
            query = query.where(trigger_state.c.namespace == namespace)
        if flow_id is not None:
            query = query.where(trigger_state.c.flow_id == flow_id)
        with self._tx(session, write=False) as tx:
            return [trigger_state_of(row._mapping) for row in tx.execute(query).all()]

    def with_backfill(self, *, session: Session | None = None) -> builtins.list[TriggerState]:
        """The states that hold a backfill cursor (beat advances them each tick).

        The column is JSON: an absent cursor may be SQL NULL or a JSON ``null``; neither is listed,
        so a tick over 10,000 scheduled flows reads only the few rows with a backfill.
        """
        column = trigger_state.c.backfill
        query = (select(trigger_state)
                 .where(column.isnot(None), cast(column, String) != "null")
                 .order_by(trigger_state.c.namespace, trigger_state.c.flow_id, trigger_state.c.trigger_id))
        with self._tx(session, write=False) as tx:
            return [trigger_state_of(row._mapping) for row in tx.execute(query).all()]

    def due(self, now: datetime, *, limit: int = 100,
            session: Session | None = None) -> builtins.list[TriggerState]:
        """Enabled triggers whose ``next_date`` has come, soonest first."""
        query = (select(trigger_state)
                 .where(trigger_state.c.next_date <= now, trigger_state.c.disabled.is_(False))
                 .order_by(trigger_state.c.next_date).limit(limit))
        with self._statement(session) as tx:
            return [trigger_state_of(row._mapping) for row in tx.execute(query).all()]

    def due_from(self, now: datetime, last: TriggerState, *, limit: int = 100,
                 session: Session | None = None) -> builtins.list[TriggerState]:
        """The enabled due triggers from ``last`` on, in (next_date, key) order, ``last``'s ties
        included: the next page after ``due``, for a caller that skips what it has seen."""
        key = tuple_(trigger_state.c.next_date, trigger_state.c.namespace, trigger_state.c.flow_id,
                     trigger_state.c.trigger_id)
        query = (select(trigger_state)
                 .where(trigger_state.c.next_date <= now, trigger_state.c.disabled.is_(False),
                        key >= tuple_(last.next_date, "", "", ""))
                 .order_by(trigger_state.c.next_date, trigger_state.c.namespace, trigger_state.c.flow_id,
                           trigger_state.c.trigger_id)
                 .limit(limit))
        with self._tx(session, write=False) as tx:
            return [trigger_state_of(row._mapping) for row in tx.execute(query).all()]

    def compare_and_set(self, state: TriggerState, now: datetime, *, session: Session | None = None,
                        next_date: datetime | None | Unchanged = KEEP,
                        last_date: datetime | None | Unchanged = KEEP,
                        last_execution_id: str | None | Unchanged = KEEP,
                        disabled: bool | Unchanged = KEEP,
                        data: dict[str, Any] | Unchanged = KEEP) -> bool:
        """Writes the given columns (and ``updated``) if ``next_date`` is still what ``state``
        read; False when another writer moved the row first (or it is gone)."""
        given = {"next_date": next_date, "last_date": last_date, "last_execution_id": last_execution_id,
                 "disabled": disabled, "data": data}
        values = {column: value for column, value in given.items() if value is not KEEP}
        column = trigger_state.c.next_date
        same_next = column.is_(None) if state.next_date is None else column == state.next_date
        statement = (update(trigger_state)
                     .where(trigger_state.c.namespace == state.namespace,
                            trigger_state.c.flow_id == state.flow_id,
                            trigger_state.c.trigger_id == state.trigger_id, same_next)
                     .values(**values, updated=now))
        with self._tx(session) as tx:
            return bool(affected(tx.execute(statement)))

    def delete(self, namespace: str, flow_id: str, trigger_id: str | None = None, *,
               session: Session | None = None) -> int:
        """Deletes one trigger's state, or all of the flow's when ``trigger_id`` is None."""
        statement = delete(trigger_state).where(trigger_state.c.namespace == namespace,
                                                trigger_state.c.flow_id == flow_id)
        if trigger_id is not None:
            statement = statement.where(trigger_state.c.trigger_id == trigger_id)
        with self._tx(session) as tx:
            return affected(tx.execute(statement))


class FiredRepository(Repository):
    def claim(self, namespace: str, flow_id: str, trigger_id: str, fire_time: datetime,
              now: datetime, *, execution_id: str | None = None,
              session: Session | None = None) -> bool:
        """True the first time this fire time is claimed, False ever after."""
        with self._tx(session) as tx:
            statement = insert_for(tx, fired).values(
                namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, fire_time=fire_time,
                execution_id=execution_id, created=now).on_conflict_do_nothing()
            # RETURNING, not rowcount: drivers disagree on rowcount for skipped conflicts.
            return tx.execute(statement.returning(fired.c.fire_time)).first() is not None

    def execution_for(self, namespace: str, flow_id: str, trigger_id: str, fire_time: datetime,
                      *, session: Session | None = None) -> str | None:
        """The execution id recorded by the winning claim (None if unclaimed or not given)."""
        with self._tx(session, write=False) as tx:
            return tx.execute(select(fired.c.execution_id).where(
                fired.c.namespace == namespace, fired.c.flow_id == flow_id,
                fired.c.trigger_id == trigger_id, fired.c.fire_time == fire_time)).scalar()

    def prune(self, before: datetime, *, session: Session | None = None) -> int:
        """Forgets claims of fire times before ``before`` (they can no longer come back)."""
        with self._tx(session) as tx:
            return affected(tx.execute(delete(fired).where(fired.c.fire_time < before)))
