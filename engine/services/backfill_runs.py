"""L3: backfills of Schedule triggers: create, pause, resume, cancel, and beat's advance.

A backfill is a :class:`~engine.schedule.backfill_cursor.BackfillCursor` stored in the trigger's state
(``trigger_state.backfill``). Each beat tick, :meth:`BackfillService.advance_all` moves every
active cursor by at most ``per_tick`` fire times. For one backfill, one transaction:

1. takes the backfill's lock (``pg_advisory_xact_lock``; SQLite's ``BEGIN IMMEDIATE`` already
   serialises writers) and re-reads the cursor, so two beats never walk the same fire times;
2. claims each fire time with ``FiredRepository.claim`` -- the key ``(flow, trigger, fire time)``
   the schedule uses -- so a fire the schedule (or an earlier backfill) made is never made twice;
3. inserts the executions and saves the moved cursor.

After the commit the CREATED executions are handed to the executor. A crash before the commit
loses nothing (the cursor did not move either); a restart continues from the saved cursor.

``only_gaps`` (beyond Kestra) keeps the fire times whose execution ended in SUCCESS or is still
running, and runs the others again (failed, killed, cancelled, warning, or deleted).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import Conflict, NotFound, PodiumError
from engine.executor import events as ev
from engine.model.execution import Execution
from engine.model.flow import Flow
from engine.model.trigger_key import TriggerKey
from engine.persistence import Session
from engine.persistence.triggers import TriggerState
from engine.plugins.core.triggers import Schedule
from engine.schedule.backfill_cursor import BackfillCursor, Slot, advance, count, new_cursor, plan
from engine.schedule.backfill_status import BackfillStatus as BackfillStatus
from engine.schedule.backfill_status import backfill_statuses
from engine.schedule.cron import CronSchedule, FireTime, schedule_from_options
from engine.services.backfill_fires import BackfillInvalid, FireMaker, user_labels
from engine.services.executions import ExecutionService, InputsInvalid
from engine.services.flows import FlowCatalog
from engine.services.messages import encode_event
from engine.services.runtime import Env
from engine.state import TERMINATED, State

logger = logging.getLogger(__name__)

KEPT_BY_ONLY_GAPS = frozenset({State.SUCCESS}) | frozenset(s for s in State if not s.is_terminated)


@dataclass
class _Batch:
    """What one transaction made: executions to start after the commit, the moved cursor."""

    cursor: BackfillCursor | None
    to_start: list[Execution]


class BackfillService:
    def __init__(self, env: Env, catalog: FlowCatalog, executions: ExecutionService) -> None:
        self.env = env
        self.catalog = catalog
        self.executions = executions
        self.states = env.trigger_states
        self.fired = env.fired
        self.store = env.backfills

    # -- reading the trigger ------------------------------------------------------------------

    def schedule_of(self, namespace: str, flow_id: str, trigger_id: str) -> tuple[Flow, Schedule, CronSchedule]:
        """The flow, its Schedule trigger and cron maths; NotFound/Conflict say what is wrong."""
        flow = self.catalog.get(namespace, flow_id)
        triggers = list(flow.triggers or [])
        found = next((t for t in triggers if t.id == trigger_id), None)
        if found is None:
            known = ", ".join(t.id for t in triggers) or "none"
            raise NotFound(f"trigger {trigger_id} not found in flow {namespace}.{flow_id} "
                           f"(its triggers: {known}); check the trigger id in the flow source")
        if not isinstance(found, Schedule):
            raise Conflict(f"trigger {trigger_id} of flow {namespace}.{flow_id} is a {found.type}: "
                           "only a Schedule trigger can be backfilled")
        try:
            schedule = schedule_from_options(found, self.env.settings.timezone)
        except ValueError as err:
            raise BackfillInvalid(f"trigger {trigger_id} of flow {namespace}.{flow_id}: {err}") from None
        return flow, found, schedule

    def plan(self, namespace: str, flow_id: str, trigger_id: str, start: datetime, end: datetime,
             limit: int | None = None) -> list[FireTime]:
        """The fire times a backfill would run (``--dry-run``); creates nothing."""
        _, _, schedule = self.schedule_of(namespace, flow_id, trigger_id)
        _check_window(start, end)
        return plan(schedule, start, end, limit)

    # -- operations -----------------------------------------------------------------------------

    def create(self, namespace: str, flow_id: str, trigger_id: str, start: datetime, end: datetime, *,
               inputs: Mapping[str, Any] | None = None, labels: object = None, only_gaps: bool = False,
               paused: bool = False) -> BackfillStatus:
        """Records a backfill; beat (or :meth:`advance_all`) creates its executions."""
        flow, trigger, schedule = self.schedule_of(namespace, flow_id, trigger_id)
        _check_window(start, end)
        key = TriggerKey(namespace, flow_id, trigger_id)
        total = count(schedule, start, end)
        if total == 0:
            raise BackfillInvalid(f"{key} has no fire time between {start.isoformat()} and "
                                  f"{end.isoformat()} (cron '{trigger.cron}'); widen the window")
        cursor = new_cursor(start, end, total=total, now=self.env.clock(), inputs=dict(inputs or {}),
                            labels=user_labels(labels), only_gaps=only_gaps, paused=paused)
        self._check_inputs(flow, trigger, schedule, cursor)
        with self.env.db.transaction() as session:
            self.store.lock(session, key.namespace, key.flow_id, key.trigger_id)
            current = self._cursor(key, session)
            if current is not None and not (current.finished or current.cancelled):
                raise Conflict(f"{key} already has a {current.status.lower()} backfill "
                               f"({current.start.isoformat()} to {current.end.isoformat()}, "
                               f"{current.done}/{current.total} done); cancel it first with "
                               f"`podium backfill cancel {namespace} {flow_id} {trigger_id}`")
            self._save(key, cursor, session)
        return BackfillStatus(key, cursor)

    def pause(self, namespace: str, flow_id: str, trigger_id: str) -> BackfillStatus:
        return self._change(TriggerKey(namespace, flow_id, trigger_id), "pause", paused=True)

    def resume(self, namespace: str, flow_id: str, trigger_id: str) -> BackfillStatus:
        return self._change(TriggerKey(namespace, flow_id, trigger_id), "resume", paused=False, error=None)

    def cancel(self, namespace: str, flow_id: str, trigger_id: str) -> BackfillStatus:
        """Stops the backfill for good; executions already created keep running."""
        return self._change(TriggerKey(namespace, flow_id, trigger_id), "cancel", cancelled=True)

    def status(self, namespace: str, flow_id: str, trigger_id: str) -> BackfillStatus:
        key = TriggerKey(namespace, flow_id, trigger_id)
        cursor = self._cursor(key)
        if cursor is None:
            self.schedule_of(namespace, flow_id, trigger_id)  # a clearer error if the trigger is wrong
            raise NotFound(f"{key} has no backfill; start one with "
                           f"`podium backfill {namespace} {flow_id} {trigger_id} --start ... --end ...`")
        return self._status(key, cursor)

    def list_backfills(self) -> list[BackfillStatus]:
        """Every stored backfill (active or not), without the finished-execution counts."""
        return backfill_statuses([(_key(state), state.backfill) for state in self.states.list()])

    def _change(self, key: TriggerKey, verb: str, **changes: bool | str | None) -> BackfillStatus:
        with self.env.db.transaction() as session:
            self.store.lock(session, key.namespace, key.flow_id, key.trigger_id)
            cursor = self._cursor(key, session)
            if cursor is None:
                raise NotFound(f"{key} has no backfill to {verb}")
            if cursor.cancelled or cursor.finished:
                raise Conflict(f"the backfill of {key} is {cursor.status.lower()}: it cannot {verb}; "
                               "start a new one instead")
            cursor = cursor.model_copy(update={**changes, "updated_at": self.env.clock()})
            self._save(key, cursor, session)
        return self._status(key, cursor)

    # -- beat -----------------------------------------------------------------------------------

    def advance_all(self, now: datetime, per_tick: int = 500) -> int:
        """Moves every active backfill by up to ``per_tick`` fire times; returns executions made."""
        made = 0
        for state in self.states.with_backfill():
            if state.backfill and BackfillCursor.load(state.backfill).active:
                made += self.advance_one(_key(state), now, per_tick)
        return made

    def advance_one(self, key: TriggerKey, now: datetime, limit: int) -> int:
        """One step of one backfill; a problem pauses it with the reason (``resume`` retries)."""
        try:
            batch = self._step(key, now, limit)
        except PodiumError as err:
            self._pause_for(key, str(err), now)
            return 0
        for execution in batch.to_start:
            self.env.dispatcher.send_event(execution.id, encode_event(ev.Start()))
        return len(batch.to_start)

    def _step(self, key: TriggerKey, now: datetime, limit: int) -> _Batch:
        with self.env.db.transaction() as session:
            self.store.lock(session, key.namespace, key.flow_id, key.trigger_id)
            cursor = self._cursor(key, session)
            if cursor is None or not cursor.active:
                return _Batch(cursor, [])
            flow, trigger, schedule = self.schedule_of(key.namespace, key.flow_id, key.trigger_id)
            if flow.disabled:
                raise Conflict(f"flow {key.namespace}.{key.flow_id} is disabled")
            slots, moved = advance(cursor, schedule, limit)
            made = self._fire_all(key, flow, trigger, moved, slots, now, session)
            moved = moved.model_copy(update={"created": cursor.created + len(made),
                                             "skipped": cursor.skipped + len(slots) - len(made),
                                             "updated_at": now})
            self._save(key, moved, session)
        return _Batch(moved, [e for e in made if e.state.current == State.CREATED])

    def _fire_all(self, key: TriggerKey, flow: Flow, trigger: Schedule, cursor: BackfillCursor,
                  slots: list[Slot], now: datetime, session: Session) -> list[Execution]:
        """Claims the fire times the trigger's conditions accept and saves an execution for
        each one won (or, with ``only_gaps``, each one whose execution did not succeed)."""
        maker = FireMaker(self.env, self.executions, flow, trigger, cursor)
        slots = [slot for slot in slots if maker.accepts(slot)]
        candidates = [maker.make(slot, now) for slot in slots]
        won = self.store.claim_many(session, key.namespace, key.flow_id, key.trigger_id,
                                    [(s.fire.at, e.id) for s, e in zip(slots, candidates, strict=True)], now)
        chosen: list[Execution] = []
        for slot, execution in zip(slots, candidates, strict=True):
            if slot.fire.at in won:
                chosen.append(execution)
            elif cursor.only_gaps and self._is_gap(key, slot.fire.at, session):
                self.store.reassign(session, key.namespace, key.flow_id, key.trigger_id, slot.fire.at,
                                    execution.id)
                chosen.append(execution)
        return self._insert_all(flow, chosen, session)

    def _insert_all(self, flow: Flow, chosen: list[Execution], session: Session) -> list[Execution]:
        """Saves the executions; under a concurrency limit, one by one as start_execution admits."""
        if flow.concurrency is None:
            self.store.create_executions(session, chosen)
            return chosen
        admitted = []
        for execution in chosen:
            execution = self.executions.slots.admit(flow, execution, session)
            self.store.create_executions(session, [execution])
            self.executions.slots.enqueue(flow, execution, session)
            admitted.append(execution)
        return admitted

    def _is_gap(self, key: TriggerKey, at: datetime, session: Session) -> bool:
        """True unless the fire time's execution exists and succeeded or is still going."""
        execution_id = self.fired.execution_for(key.namespace, key.flow_id, key.trigger_id, at,
                                                session=session)
        if execution_id is None:
            return True
        found = self.env.executions.get(execution_id, session=session)
        return found is None or found.state.current not in KEPT_BY_ONLY_GAPS

    def _pause_for(self, key: TriggerKey, reason: str, now: datetime) -> None:
        logger.warning("backfill of %s paused: %s", key, reason)
        with self.env.db.transaction() as session:
            self.store.lock(session, key.namespace, key.flow_id, key.trigger_id)
            cursor = self._cursor(key, session)
            if cursor is not None and cursor.active:
                self._save(key, cursor.model_copy(update={"paused": True, "error": reason,
                                                          "updated_at": now}), session)

    # -- storage --------------------------------------------------------------------------------

    def _check_inputs(self, flow: Flow, trigger: Schedule, schedule: CronSchedule,
                      cursor: BackfillCursor) -> None:
        """Builds (without saving) the first execution, so bad inputs fail now, not in beat."""
        slots, _ = advance(cursor, schedule, 1)
        try:
            maker = FireMaker(self.env, self.executions, flow, trigger, cursor)
            for slot in slots:
                maker.make(slot, self.env.clock())
        except InputsInvalid as err:
            raise BackfillInvalid(f"inputs of the backfill: {err}") from None

    def _cursor(self, key: TriggerKey, session: Session | None = None) -> BackfillCursor | None:
        state = self.states.get(key.namespace, key.flow_id, key.trigger_id, session=session)
        return BackfillCursor.load(state.backfill) if state is not None and state.backfill else None

    def _save(self, key: TriggerKey, cursor: BackfillCursor, session: Session) -> None:
        self.store.save_cursor(session, key.namespace, key.flow_id, key.trigger_id, cursor.to_json(),
                               self.env.clock())

    def _status(self, key: TriggerKey, cursor: BackfillCursor) -> BackfillStatus:
        made, ended = self.store.window_counts(key.namespace, key.flow_id, key.trigger_id, cursor.start,
                                               cursor.end, TERMINATED)
        return BackfillStatus(key, cursor, made, ended)


def _check_window(start: datetime, end: datetime) -> None:
    if start >= end:
        raise BackfillInvalid(f"backfill start {start.isoformat()} is not before end {end.isoformat()}: "
                              "give a start earlier than the end")


def _key(state: TriggerState) -> TriggerKey:
    return TriggerKey(state.namespace, state.flow_id, state.trigger_id)
