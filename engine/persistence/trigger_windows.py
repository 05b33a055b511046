"""L2 adapter: Flow trigger windows and the events each trigger has already handled.

``trigger_windows`` keeps one row per (namespace, flow, trigger, condition id, window start)
with the names of the conditions met so far (``engine.schedule.flow_window``).
``flow_trigger_events`` keeps one row per (upstream execution, state change, trigger): the
first claim wins, so an end event delivered twice is evaluated, and starts an execution, once.

Concurrency: :meth:`TriggerWindowRepository.lock` serialises the evaluations of one trigger
(``pg_advisory_xact_lock`` on PostgreSQL; SQLite's write transaction already does), so two
executors ending two upstream executions at once cannot both read a window, each add their
condition, and have the second write lose the first one's.
"""
from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, func, select, text, update
from sqlalchemy.orm import Session

from engine.model.trigger_key import TriggerKey
from engine.persistence.base import Repository, affected, insert_for, is_postgres
from engine.persistence.tables import flow_trigger_events, flows, trigger_windows
from engine.schedule.flow_window import Window


@dataclass(frozen=True)
class EventKey:
    """One state change of one upstream execution, as seen by one trigger."""

    execution_id: str
    state_index: int
    trigger: TriggerKey


@dataclass(frozen=True)
class LatestRevision:
    namespace: str
    flow_id: str
    revision: int
    deleted: bool


class TriggerWindowRepository(Repository):
    # -- handled events -----------------------------------------------------------------------
    def claim_event(self, key: EventKey, now: datetime, *, session: Session | None = None) -> bool:
        """True the first time this (execution, state change, trigger) is claimed."""
        with self._tx(session) as tx:
            statement = insert_for(tx, flow_trigger_events).values(
                execution_id=key.execution_id, state_index=key.state_index,
                namespace=key.trigger.namespace, flow_id=key.trigger.flow_id,
                trigger_id=key.trigger.trigger_id, created=now).on_conflict_do_nothing()
            return tx.execute(statement.returning(flow_trigger_events.c.created)).first() is not None

    def record_fired(self, key: EventKey, execution_id: str | None, *, session: Session | None = None) -> None:
        """The event's fire is done: ``execution_id`` started (None: nothing could be)."""
        with self._tx(session) as tx:
            tx.execute(update(flow_trigger_events).where(*_event_where(key))
                       .values(fired_execution_id=execution_id, fire_outputs=None))

    def keep_fire(self, key: EventKey, outputs: Mapping[str, Any], *, session: Session) -> None:
        """With the claim: the event fires with ``outputs``, until ``record_fired``."""
        session.execute(update(flow_trigger_events).where(*_event_where(key)).values(fire_outputs=dict(outputs)))

    def unstarted_fire(self, key: EventKey, *, session: Session | None = None) -> dict[str, Any] | None:
        """The outputs of a fire this event's claim decided whose execution is not recorded yet
        (the process died between the two), or None."""
        with self._tx(session, write=False) as tx:
            outputs = tx.execute(select(flow_trigger_events.c.fire_outputs).where(
                *_event_where(key), flow_trigger_events.c.fired_execution_id.is_(None))).scalar()
        return dict(outputs) if outputs is not None else None

    def fired_execution(self, key: EventKey, *, session: Session | None = None) -> str | None:
        with self._tx(session, write=False) as tx:
            return tx.execute(select(flow_trigger_events.c.fired_execution_id)
                              .where(*_event_where(key))).scalar()

    def prune_events(self, before: datetime, *, session: Session | None = None) -> int:
        """Forgets handled events older than ``before`` (their executions ended long ago)."""
        with self._tx(session) as tx:
            return affected(tx.execute(delete(flow_trigger_events)
                                       .where(flow_trigger_events.c.created < before)))

    # -- windows ------------------------------------------------------------------------------
    def lock(self, trigger: TriggerKey, session: Session) -> None:
        """Serialises window updates of one trigger until ``session`` commits."""
        if is_postgres(session):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"podium-flow-trigger:{trigger.namespace}.{trigger.flow_id}."
                                    f"{trigger.trigger_id}"})

    def windows(self, trigger: TriggerKey, now: datetime, *,
                session: Session | None = None) -> dict[str, Window]:
        """The windows holding ``now``, by condition id (the latest one if several)."""
        query = (select(trigger_windows).where(*_trigger_where(trigger),
                                               trigger_windows.c.window_start <= now,
                                               trigger_windows.c.window_end > now)
                 .order_by(trigger_windows.c.window_start))
        with self._tx(session, write=False) as tx:
            return {row.condition_id: _window(row) for row in tx.execute(query).all()}

    def save(self, trigger: TriggerKey, window: Window, now: datetime, *,
             session: Session | None = None) -> None:
        """Creates or replaces the window (same condition id and start)."""
        values = {"namespace": trigger.namespace, "flow_id": trigger.flow_id,
                  "trigger_id": trigger.trigger_id, "condition_id": window.condition_id,
                  "window_start": window.start, "window_end": window.end,
                  "met": sorted(window.met), "outputs": dict(window.outputs), "updated": now}
        with self._tx(session) as tx:
            statement = insert_for(tx, trigger_windows).values(**values)
            tx.execute(statement.on_conflict_do_update(
                index_elements=[trigger_windows.c[k] for k in _WINDOW_KEY],
                set_={k: statement.excluded[k] for k in ("window_end", "met", "outputs", "updated")}))

    def delete(self, trigger: TriggerKey, window: Window, *, session: Session | None = None) -> int:
        with self._tx(session) as tx:
            return affected(tx.execute(delete(trigger_windows).where(
                *_trigger_where(trigger), trigger_windows.c.condition_id == window.condition_id,
                trigger_windows.c.window_start == window.start)))

    def purge_expired(self, now: datetime, *, session: Session | None = None) -> int:
        """Deletes windows that ended: their conditions can no longer complete."""
        with self._tx(session) as tx:
            return affected(tx.execute(delete(trigger_windows).where(trigger_windows.c.window_end <= now)))

    def list(self, trigger: TriggerKey, *, session: Session | None = None) -> builtins.list[Window]:
        with self._tx(session, write=False) as tx:
            rows = tx.execute(select(trigger_windows).where(*_trigger_where(trigger))
                              .order_by(trigger_windows.c.window_start)).all()
        return [_window(row) for row in rows]

    # -- which flows to look at ---------------------------------------------------------------
    def latest_revisions(self, *, session: Session | None = None) -> builtins.list[LatestRevision]:
        """Each flow's latest revision number and whether it is deleted (no source read)."""
        latest = (select(flows.c.namespace, flows.c.flow_id, func.max(flows.c.revision).label("revision"))
                  .group_by(flows.c.namespace, flows.c.flow_id).subquery())
        query = select(flows.c.namespace, flows.c.flow_id, flows.c.revision, flows.c.deleted).join(
            latest, and_(flows.c.namespace == latest.c.namespace, flows.c.flow_id == latest.c.flow_id,
                         flows.c.revision == latest.c.revision))
        with self._tx(session, write=False) as tx:
            return [LatestRevision(r.namespace, r.flow_id, r.revision, r.deleted)
                    for r in tx.execute(query).all()]


_WINDOW_KEY = ("namespace", "flow_id", "trigger_id", "condition_id", "window_start")


def _trigger_where(trigger: TriggerKey) -> tuple[ColumnElement[bool], ...]:
    return (trigger_windows.c.namespace == trigger.namespace, trigger_windows.c.flow_id == trigger.flow_id,
            trigger_windows.c.trigger_id == trigger.trigger_id)


def _event_where(key: EventKey) -> tuple[ColumnElement[bool], ...]:
    table = flow_trigger_events.c
    return (table.execution_id == key.execution_id, table.state_index == key.state_index,
            table.namespace == key.trigger.namespace, table.flow_id == key.trigger.flow_id,
            table.trigger_id == key.trigger.trigger_id)


def _window(row: Row[Any]) -> Window:
    return Window(condition_id=row.condition_id, start=row.window_start, end=row.window_end,
                  met=frozenset(row.met or ()), outputs=dict(row.outputs or {}))
