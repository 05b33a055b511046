"""L3: Schedule and ScheduleOnDates triggers: their state rows, and firing them from the beat.

* :meth:`ScheduleService.sync_flow` runs on every deploy: it creates or updates one
  ``trigger_state`` row per schedule trigger of the flow (with its ``next_date``) and drops the
  rows of schedule triggers that are gone.
* :meth:`ScheduleService.fire_due` runs on every beat tick. One indexed query finds the rows
  whose ``next_date`` has come (10,000 idle schedules cost nothing more); for each, the pure
  policy (engine/schedule/policy.py) picks at most one date, and one transaction claims the key
  ``(namespace, flow, trigger, fire time)`` in ``fired`` (``INSERT ... ON CONFLICT DO NOTHING``),
  creates the execution and moves the state. Whoever loses the claim (a second beat, a restart
  replaying a tick) creates nothing.

Kestra's no-overlap rule: while the execution a trigger last created is running, the trigger
does not fire; its date stays due and is decided by the policy once that execution ends (with
ALL the late dates then fire one by one; with NONE they were missed and are skipped; LAST fires
the newest). ``stopAfter`` is checked at that moment too: an ended execution whose state is
listed disables the trigger. State rows are updated compare-and-set on ``next_date`` and only
in the schedule's own columns, so backfill cursors and concurrent beats are never overwritten.

A schedule that cannot be planned, or whose date is skipped because its inputs, labels or
conditions fail, says so through :class:`~engine.services.trigger_errors.TriggerErrors`
(``podium triggers list``, the flow's logs, one warning line).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine import executor
from engine.durations import parse_duration
from engine.errors import NotFound, PodiumError
from engine.executor import events as ev
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import Flow
from engine.model.trigger_key import TriggerKey
from engine.persistence import Session
from engine.persistence.triggers import TriggerState
from engine.plugins.core.triggers import RecoverMissedSchedules, Schedule, ScheduleOnDates
from engine.schedule.conditions import ConditionError, all_pass
from engine.schedule.cron import FireTime, schedule_from_options, zone_of
from engine.schedule.policy import DateList, DateSequence, Decision, Policy, decide, first_date
from engine.schedule.schedule_triggers import ScheduleTrigger, schedule_triggers
from engine.services.executions import ExecutionService, InputsInvalid
from engine.services.flows import FlowCatalog
from engine.services.messages import encode_event
from engine.services.runtime import Env
from engine.services.trigger_errors import TriggerErrors
from engine.state import State

logger = logging.getLogger(__name__)
KIND = "schedule"  # data["kind"] of the rows this service owns (Flow triggers keep their own)
PAGE = 500

@dataclass(frozen=True)
class Fired:
    """One execution created by a schedule (for logs and tests)."""

    execution: Execution
    fire: FireTime


class ScheduleService:
    def __init__(self, env: Env, catalog: FlowCatalog, executions: ExecutionService) -> None:
        self.env = env
        self.catalog = catalog
        self.executions = executions
        self.states = env.trigger_states
        self.fired = env.fired
        self.errors = TriggerErrors(env)

    # -- deploy ---------------------------------------------------------------------------------

    def sync_flow(self, flow: Flow) -> None:
        """Creates/updates the state rows of the flow's schedule triggers; drops removed ones."""
        now = self.env.clock()
        triggers = {t.id: t for t in schedule_triggers(flow)}
        existing = {s.trigger_id: s for s in self.states.list(flow.namespace, flow.id)}
        for trigger_id, state in existing.items():
            if trigger_id not in triggers and state.data.get("kind") == KIND:
                self.states.delete(flow.namespace, flow.id, trigger_id)
        for trigger in triggers.values():
            try:
                self._sync_trigger(flow, trigger, existing.get(trigger.id), now)
            except (ValueError, PodiumError) as err:
                self.errors.report(TriggerKey(flow.namespace, flow.id, trigger.id), f"cannot be planned: {err}")

    def _sync_trigger(self, flow: Flow, trigger: ScheduleTrigger, state: TriggerState | None,
                      now: datetime) -> None:
        dates = self._rendered_dates(flow, trigger)
        signature = _signature(trigger, dates)
        source_off = bool(flow.disabled or trigger.disabled)
        data: dict[str, Any] = {"kind": KIND, "type": trigger.type, "signature": signature,
                                "sourceDisabled": source_off}
        if dates is not None:
            data["dates"] = dates
        sequence = self._sequence(trigger, dates)
        if state is None:
            self.states.save(TriggerState(flow.namespace, flow.id, trigger.id, disabled=source_off,
                                          next_date=first_date(sequence, now), data=data), now)
            return
        disabled = state.disabled
        next_date = state.next_date
        if state.data.get("sourceDisabled") != source_off:
            disabled = source_off  # the source changed: it wins over Toggle / stopAfter
        if state.data.get("signature") != signature or (state.disabled and not disabled):
            # New dates, or enabled again: start from now, as Kestra does on re-enabling.
            next_date = first_date(sequence, now)
        self.states.compare_and_set(state, now, next_date=next_date, disabled=disabled,
                                    data={**state.data, **data})

    def _rendered_dates(self, flow: Flow, trigger: ScheduleTrigger) -> list[str] | None:
        if not isinstance(trigger, ScheduleOnDates):
            return None
        raw = trigger.dates
        context = {"flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
                   **self.executions.extra_variables()}
        value = self.env.renderer(flow.namespace).render_value(raw, context, typed=True)
        values = value if isinstance(value, list) else [value]
        zone = zone_of(trigger.timezone or self.env.settings.timezone)
        return [fire.at.isoformat() for fire in DateList.parse([str(v) for v in values], zone).fires]

    def _sequence(self, trigger: ScheduleTrigger, dates: list[str] | None) -> DateSequence:
        zone_name = trigger.timezone or self.env.settings.timezone
        if isinstance(trigger, Schedule):
            return schedule_from_options(trigger, self.env.settings.timezone)
        return DateList.parse(dates or [], zone_of(zone_name))

    # -- beat -----------------------------------------------------------------------------------

    def fire_due(self, now: datetime) -> int:
        """Fires what is due at ``now``; returns the number of executions created."""
        made = 0
        for state in self._due(now):
            if state.data.get("kind") != KIND:
                continue
            try:
                made += 1 if self.fire_one(state, now) is not None else 0
            except Exception as err:  # one broken trigger must not stop the others
                logger.debug("schedule %s.%s.%s failed", state.namespace, state.flow_id, state.trigger_id,
                             exc_info=True)
                self.errors.report(TriggerKey(state.namespace, state.flow_id, state.trigger_id),
                                   f"schedule failed: {err}")
        return made

    def fire_one(self, state: TriggerState, now: datetime) -> Fired | None:
        """Decides and fires one due trigger; None when nothing was created."""
        found = self._flow_and_trigger(state)
        if found is None:
            self.states.delete(state.namespace, state.flow_id, state.trigger_id)
            return None
        flow, trigger = found
        if flow.disabled or trigger.disabled:
            self.states.compare_and_set(state, now, disabled=True)
            return None
        if self._blocked(state, trigger, now):
            return None
        assert state.next_date is not None  # due rows have one
        sequence = self._sequence(trigger, state.data.get("dates"))
        decision = decide(sequence, state.next_date, now, self._policy(trigger),
                          lambda fire: self._accepts(flow, trigger, fire, sequence))
        if decision.skipped:
            logger.info("schedule %s.%s.%s: %s date(s) skipped", flow.namespace, flow.id,
                        trigger.id, decision.skipped)
        if decision.fire is None:
            self.states.compare_and_set(state, now, next_date=decision.next_date)
            return None
        return self._fire(flow, trigger, state, decision, now)

    def _blocked(self, state: TriggerState, trigger: ScheduleTrigger, now: datetime) -> bool:
        """The no-overlap rule (unless ``allowConcurrent``), and stopAfter once the last execution
        has ended."""
        if state.last_execution_id is None:
            return False
        last = self.env.executions.get(state.last_execution_id)
        if last is None:
            return False
        current = last.state.current
        if not current.is_terminated:
            return not trigger.allow_concurrent
        if trigger.stop_after and current.value in trigger.stop_after:
            logger.info("schedule %s.%s.%s disabled: execution %s ended %s (stopAfter)",
                        state.namespace, state.flow_id, state.trigger_id, last.id, current.value)
            self.states.compare_and_set(state, now, disabled=True, data={**state.data, "stoppedBy": last.id})
            return True
        return False

    def _fire(self, flow: Flow, trigger: ScheduleTrigger, state: TriggerState, decision: Decision,
              now: datetime) -> Fired | None:
        fire = decision.fire
        assert fire is not None
        try:
            execution = self._execution(flow, trigger, decision, now)
        except (InputsInvalid, PodiumError, ValueError) as err:
            self.errors.report(TriggerKey(flow.namespace, flow.id, trigger.id), f"date {fire.iso} skipped: {err}")
            self.states.compare_and_set(state, now, next_date=decision.next_date)
            return None
        with self.env.db.transaction() as session:
            if not self.fired.claim(flow.namespace, flow.id, trigger.id, fire.at, now,
                                    execution_id=execution.id, session=session):
                return None  # another beat (or an earlier run of this tick) created it
            execution = self._insert(flow, execution, session)
            self.states.compare_and_set(state, now, session=session, next_date=decision.next_date,
                                        last_date=fire.at, last_execution_id=execution.id)
        if execution.state.current == State.CREATED:
            self.env.dispatcher.send_event(execution.id, encode_event(ev.Start()))
        logger.info("schedule %s.%s.%s fired %s: execution %s", flow.namespace, flow.id, trigger.id,
                    fire.iso, execution.id)
        return Fired(execution, fire)

    def _execution(self, flow: Flow, trigger: ScheduleTrigger, decision: Decision, now: datetime) -> Execution:
        fire = decision.fire
        assert fire is not None
        variables = decision.variables()
        context = self._context(flow, variables)
        renderer = self.env.renderer(flow.namespace)
        labels = renderer.render_value(_labels(trigger.labels), context)
        made = executor.create_execution(
            flow, {}, labels, now, schedule_date=fire.at,
            trigger=ExecutionTrigger(id=trigger.id, type=trigger.type, variables=variables))
        raw = renderer.render_value(dict(trigger.inputs or {}), context)
        # Same input resolution as start_execution; the insert below joins the claim's transaction.
        return made.model_copy(update={"inputs": self.executions._inputs(flow, made, raw)})

    def _insert(self, flow: Flow, execution: Execution, session: Session) -> Execution:
        """Saves the execution under the flow's concurrency limit, as start_execution does."""
        execution = self.executions.slots.admit(flow, execution, session)
        self.env.executions.create(execution, session=session)
        self.executions.slots.enqueue(flow, execution, session)
        return execution

    def _accepts(self, flow: Flow, trigger: ScheduleTrigger, fire: FireTime, sequence: DateSequence) -> bool:
        deprecated = trigger.schedule_conditions if isinstance(trigger, Schedule) else None
        conditions = list(trigger.conditions or []) + list(deprecated or [])
        if not conditions:
            return True
        variables = {"date": fire.iso}
        neighbours = (("next", sequence.next_after(fire.at)), ("previous", sequence.previous_before(fire.at)))
        variables.update({name: value.iso for name, value in neighbours if value is not None})
        try:
            return all_pass(conditions, fire, self._context(flow, variables), self.env.renderer(flow.namespace).render)
        except (ConditionError, PodiumError, ValueError) as err:
            self.errors.report(TriggerKey(flow.namespace, flow.id, trigger.id),
                               f"condition failed on {fire.iso}, date skipped: {err}")
            return False

    def _context(self, flow: Flow, trigger_variables: Mapping[str, str]) -> dict[str, Any]:
        return {"flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
                "trigger": dict(trigger_variables), **self.executions.extra_variables()}

    def _policy(self, trigger: ScheduleTrigger) -> Policy:
        recover = trigger.recover_missed_schedules or RecoverMissedSchedules.ALL
        late = trigger.late_maximum_delay if isinstance(trigger, Schedule) else None
        return Policy(recover=recover, late_maximum_delay=parse_duration(late) if late else None)

    def _flow_and_trigger(self, state: TriggerState) -> tuple[Flow, ScheduleTrigger] | None:
        try:
            flow = self.catalog.get(state.namespace, state.flow_id)
        except NotFound:
            return None
        trigger = next((t for t in schedule_triggers(flow) if t.id == state.trigger_id), None)
        return (flow, trigger) if trigger is not None else None

    def _due(self, now: datetime) -> Iterator[TriggerState]:
        """Every due row, page by page on the next_date index, so that triggers blocked by a
        running execution never hide the ones behind them."""
        page = self.states.due(now, limit=PAGE)
        seen: set[tuple[str, str, str]] = set()
        while page:
            fresh = [s for s in page if (s.namespace, s.flow_id, s.trigger_id) not in seen]
            seen.update((s.namespace, s.flow_id, s.trigger_id) for s in fresh)
            yield from fresh
            if len(page) < PAGE or not fresh:
                return
            page = self.states.due_from(now, page[-1], limit=PAGE * 2)


def _signature(trigger: ScheduleTrigger, dates: list[str] | None) -> str:
    if isinstance(trigger, Schedule):
        return f"cron={trigger.cron}|s={trigger.with_seconds}|tz={trigger.timezone}"
    return f"dates={','.join(dates or [])}|tz={trigger.timezone}"


def _labels(labels: dict[str, Any] | list[dict[str, Any]] | None) -> dict[str, Any]:
    if not labels:
        return {}
    if isinstance(labels, Mapping):
        return dict(labels)
    return {str(item["key"]): item.get("value") for item in labels if isinstance(item, Mapping)}

