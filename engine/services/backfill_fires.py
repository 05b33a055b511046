"""L3: the execution of one backfilled fire time, built as the schedule builds its own.

Like ``ScheduleService`` (engine/services/schedules.py), a backfilled execution carries the
trigger variables ``date``/``next``/``previous`` and ``scheduleDate``; the trigger's labels and
inputs, then the backfill's, are rendered with ``{{ trigger.date }}`` and friends in context;
the trigger's conditions filter the dates. Added: the label ``system.backfill: true``.

Rendering costs a template pass per execution, so it happens only when a value holds an
expression; inputs without expressions or FILE inputs are resolved once per batch.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine import executor
from engine.errors import PodiumError
from engine.inputs import InputError, resolve_inputs
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import Flow
from engine.model.task import is_expression
from engine.plugins.core.triggers import Schedule
from engine.schedule.backfill_cursor import BackfillCursor, Slot
from engine.schedule.conditions import ConditionError, all_pass
from engine.services.executions import ExecutionService, InputsInvalid
from engine.services.runtime import Env

# Kestra marks system labels with ``system.``; users cannot set them (flow_rules.py).
BACKFILL_LABEL = "system.backfill"


class BackfillInvalid(PodiumError, ValueError):
    """A backfill request that cannot be accepted (bad window, labels, inputs)."""


class FireMaker:
    """Builds the executions of one backfill step (one flow revision, one cursor)."""

    def __init__(self, env: Env, executions: ExecutionService, flow: Flow, trigger: Schedule,
                 cursor: BackfillCursor) -> None:
        self.env, self.executions, self.flow, self.trigger = env, executions, flow, trigger
        self.renderer = env.renderer(flow.namespace)
        self.labels = {**user_labels(trigger.labels), **cursor.labels}
        self.raw_inputs = {**(trigger.inputs or {}), **cursor.inputs}
        self.conditions = list(trigger.conditions or []) + list(trigger.schedule_conditions or [])
        self._dynamic_labels = _has_expression(self.labels)
        self._dynamic_inputs = _has_expression(self.raw_inputs)
        per_execution = self._dynamic_inputs or _has_file_input(flow)
        self._shared_inputs = None if per_execution else self.inputs(None, self.raw_inputs)

    def accepts(self, slot: Slot) -> bool:
        """The trigger's conditions for this date (a condition that fails to render skips it)."""
        if not self.conditions:
            return True
        try:
            return all_pass(self.conditions, slot.fire, self.context(slot), self.renderer.render)
        except (ConditionError, PodiumError, ValueError):
            return False

    def make(self, slot: Slot, now: datetime) -> Execution:
        context = self.context(slot) if self._dynamic_labels or self._dynamic_inputs else {}
        labels = self.renderer.render_value(self.labels, context) if self._dynamic_labels else self.labels
        made = executor.create_execution(
            self.flow, self._shared_inputs or {}, {**labels, BACKFILL_LABEL: "true"}, now,
            schedule_date=slot.fire.at,
            trigger=ExecutionTrigger(id=self.trigger.id, type=self.trigger.type, variables=slot.variables()))
        if self._shared_inputs is not None:
            return made
        raw = self.renderer.render_value(self.raw_inputs, context) if self._dynamic_inputs else self.raw_inputs
        return made.model_copy(update={"inputs": self.inputs(made, raw)})

    def context(self, slot: Slot) -> dict[str, Any]:
        flow = self.flow
        return {"flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
                "trigger": slot.variables(), **self.executions.extra_variables()}

    def inputs(self, execution: Execution | None, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The flow's inputs resolved as start_execution resolves a trigger's: a FILE value must be
        a URI ``execution`` may read (the trigger's and the backfill's inputs are flow data)."""
        store_file = self.executions.file_values(execution) if execution is not None else None
        try:
            return resolve_inputs(self.flow, raw, store_file=store_file, render=self.renderer.render_typed)
        except InputError as err:
            raise InputsInvalid(str(err)) from None


def user_labels(labels: object) -> dict[str, str]:
    """A map or Kestra's list of ``{key, value}``, as text; ``system.`` keys are refused."""
    if not labels:
        return {}
    if isinstance(labels, Mapping):
        items = list(labels.items())
    elif isinstance(labels, list) and all(isinstance(i, Mapping) and "key" in i for i in labels):
        items = [(i["key"], i.get("value")) for i in labels]
    else:
        raise BackfillInvalid('labels must be a JSON object {"team": "data"} or a list of '
                              '{"key": ..., "value": ...}')
    pairs = {str(k): _text(v) for k, v in items}
    system = sorted(k for k in pairs if k.startswith("system."))
    if system:
        raise BackfillInvalid(f"labels {', '.join(system)}: keys starting with 'system.' are reserved")
    return pairs


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _has_file_input(flow: Flow) -> bool:
    return any(getattr(spec, "type", None) == "FILE" for spec in flow.inputs or [])


def _has_expression(value: object) -> bool:
    if isinstance(value, str):
        return is_expression(value)
    if isinstance(value, Mapping):
        return any(_has_expression(k) or _has_expression(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_expression(v) for v in value)
    return False
