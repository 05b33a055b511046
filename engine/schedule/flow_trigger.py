"""L1 pure core: does a Flow trigger fire for an execution that changed state?

Kestra's ``FlowTriggerService`` + ``plugin.core.trigger.Flow`` + the execution conditions, as
pure functions: no I/O and no clock (``now`` is an argument), expressions rendered by a function
the caller passes in. Evaluation has two steps:

1. :func:`match` checks the trigger's ``states`` and its plain conditions, and says which named
   conditions of each window (legacy ``MultipleCondition``, ``preconditions``) the execution meets;
2. :func:`plan_windows` merges those hits into the stored windows (``engine.schedule.flow_window``)
   and decides whether the trigger fires, and which windows to save or delete.

A flow never triggers itself (Kestra's ``FlowService.removeUnwanted``).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.model.task import ConditionOptions
from engine.plugins.core import conditions as c
from engine.plugins.core.triggers import (
    FilterField,
    FilterType,
    FlowTrigger,
    PreconditionFilter,
    PreconditionWhere,
    UpstreamFlow,
)
from engine.schedule.flow_window import WindowSpec, legacy_spec, precondition_spec
from engine.state import TERMINATED, State
from engine.templating.truth import is_truthy

FLOW_TRIGGER_TYPE = "io.kestra.plugin.core.trigger.Flow"

Render = Callable[[str, Mapping[str, Any]], Any]
"""Renders one expression against variables, keeping its type (``Renderer.render_typed``)."""
# What a Flow trigger tests an execution with: its conditions, and the items of its preconditions.
TestedCondition = ConditionOptions | UpstreamFlow | PreconditionWhere


class ConditionError(ValueError):
    """A condition could not be evaluated (unknown type, expression that fails to render)."""


@dataclass(frozen=True)
class Upstream:
    """The execution whose state changed, as a Flow trigger sees it."""

    execution_id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State
    labels: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def trigger_variables(self) -> dict[str, Any]:
        """``trigger.*`` of the executions it starts (Kestra's ``Flow.Output``)."""
        return {"executionId": self.execution_id, "namespace": self.namespace, "flowId": self.flow_id,
                "flowRevision": self.flow_revision, "state": self.state.value}


@dataclass(frozen=True)
class WindowHit:
    """Which named conditions of one window the execution meets (possibly none)."""

    spec: WindowSpec
    met: frozenset[str]


@dataclass(frozen=True)
class Match:
    """Result of :func:`match`. ``listens`` is False when the trigger ignores the execution."""

    listens: bool
    hits: tuple[WindowHit, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def needs_windows(self) -> bool:
        return bool(self.hits)


# Kestra 1.x (since 0.23): without ``states``, the terminal states and PAUSED, so that a flow can
# tell someone that an execution waits for them; conditions (ExecutionStatus) narrow it down.
DEFAULT_STATES = TERMINATED | {State.PAUSED}


def _states(trigger: FlowTrigger) -> frozenset[State]:
    return frozenset(trigger.states) if trigger.states else DEFAULT_STATES


def listens_to(trigger: FlowTrigger, flow_namespace: str, flow_id: str, upstream: Upstream) -> bool:
    """The cheap checks: not the flow itself, trigger enabled, state listened to."""
    if (flow_namespace, flow_id) == (upstream.namespace, upstream.flow_id):
        return False
    return not trigger.disabled and upstream.state in _states(trigger)


def match(trigger: FlowTrigger, flow_namespace: str, flow_id: str, upstream: Upstream,
          variables: Mapping[str, Any], render: Render) -> Match:
    """Step 1: the plain conditions must all pass; then each window's conditions are tested.

    ``variables`` are the rendering variables of the upstream execution (its outputs, labels...),
    used by Expression conditions and EXPRESSION filters.
    """
    if not listens_to(trigger, flow_namespace, flow_id, upstream):
        return Match(False)
    errors: list[str] = []
    plain = [cond for cond in trigger.conditions or [] if not isinstance(cond, c.MultipleCondition)]
    if not all(_safe(cond, upstream, variables, render, errors) for cond in plain):
        return Match(False, errors=tuple(errors))
    specs = [legacy_spec(cond) for cond in trigger.conditions or [] if isinstance(cond, c.MultipleCondition)]
    if trigger.preconditions is not None:
        specs.append(precondition_spec(trigger.preconditions, trigger.id))
    hits = tuple(WindowHit(spec, frozenset(name for name, cond in spec.conditions.items()
                                           if _safe(cond, upstream, variables, render, errors)))
                 for spec in specs)
    return Match(True, hits, tuple(errors))


def _safe(condition: TestedCondition, upstream: Upstream, variables: Mapping[str, Any], render: Render,
          errors: list[str]) -> bool:
    """A condition that cannot be evaluated does not pass (Kestra logs it and moves on)."""
    try:
        return passes(condition, upstream, variables, render)
    except ConditionError as err:
        errors.append(str(err))
        return False


def passes(condition: TestedCondition, upstream: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    """Whether one condition (or precondition item) passes for ``upstream``."""
    for kind, test in _TESTS:
        if isinstance(condition, kind):
            return test(condition, upstream, variables, render)
    raise ConditionError(f"condition {getattr(condition, 'type', type(condition).__name__)} cannot be "
                         "used on a Flow trigger: it does not test an execution")


def _flow(cond: c.ExecutionFlow | c.FlowCondition, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    return up.namespace == cond.namespace and up.flow_id == cond.flow_id


def _namespace(cond: c.ExecutionNamespace, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    comparison = cond.comparison or (c.Comparison.PREFIX if cond.prefix else c.Comparison.EQUALS)
    if comparison == c.Comparison.PREFIX:
        return up.namespace.startswith(cond.namespace)
    if comparison == c.Comparison.SUFFIX:
        return up.namespace.endswith(cond.namespace)
    return up.namespace == cond.namespace


def _flow_namespace(cond: c.FlowNamespaceCondition, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    return up.namespace.startswith(cond.namespace) if cond.prefix else up.namespace == cond.namespace


def _status(cond: c.ExecutionStatus, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    if cond.in_ and up.state not in cond.in_:
        return False
    return not (cond.not_in and up.state in cond.not_in)


def _labels(cond: c.ExecutionLabels, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    return all(up.labels.get(key) == value for key, value in label_pairs(cond.labels).items())


def label_pairs(labels: Mapping[str, Any] | list[dict[str, Any]] | None) -> dict[str, str]:
    """Labels written as a map or as ``[{key, value}]``, values as Kestra prints them."""
    if not labels:
        return {}
    if isinstance(labels, Mapping):
        return {str(k): java_text(v) for k, v in labels.items()}
    return {str(item["key"]): java_text(item.get("value")) for item in labels}


def java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _outputs(cond: c.ExecutionOutputs, up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    if not up.outputs:
        return False  # Kestra: an execution without outputs never passes
    return is_truthy(_render(render, cond.expression, with_trigger_outputs(variables, up.outputs)))


def _expression(cond: c.Expression, _up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    return is_truthy(_render(render, cond.expression, variables))


def _not(cond: c.Not, up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    return not any(passes(inner, up, variables, render) for inner in cond.conditions)


def _or(cond: c.Or, up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    return any(passes(inner, up, variables, render) for inner in cond.conditions)


def _upstream_flow(cond: UpstreamFlow, up: Upstream, _v: Mapping[str, Any], _r: Render) -> bool:
    if cond.namespace is not None and up.namespace != cond.namespace:
        return False
    if cond.flow_id is not None and up.flow_id != cond.flow_id:
        return False
    if cond.states is not None and up.state not in cond.states:
        return False
    return all(up.labels.get(key) == value for key, value in label_pairs(cond.labels).items())


def _where(cond: PreconditionWhere, up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    results = (filter_passes(item, up, variables, render) for item in cond.filters)
    return any(results) if cond.operand == "OR" else all(results)


def filter_passes(item: PreconditionFilter, up: Upstream, variables: Mapping[str, Any], render: Render) -> bool:
    """One ``where`` filter (Kestra's ``Flow.FilterCondition.evaluate``)."""
    if item.field == FilterField.EXPRESSION:
        rendered = _render(render, item.value or "", variables)
        value: str | None = None if rendered is None else java_text(rendered)
    else:
        value = {FilterField.FLOW_ID: up.flow_id, FilterField.NAMESPACE: up.namespace,
                 FilterField.STATE: up.state.value}[item.field]
    return _compare(item.type, value, item.value, item.values or [])


def _compare(kind: FilterType, value: str | None, expected: str | None, values: list[str]) -> bool:
    if kind in (FilterType.IS_NULL, FilterType.IS_NOT_NULL):
        return (value is None) == (kind == FilterType.IS_NULL)
    if kind in (FilterType.IS_TRUE, FilterType.IS_FALSE):
        return is_truthy(value) == (kind == FilterType.IS_TRUE)
    if kind in (FilterType.IN, FilterType.NOT_IN):
        return (value in values) == (kind == FilterType.IN)
    if kind in (FilterType.EQUAL_TO, FilterType.NOT_EQUAL_TO):
        return (value == expected) == (kind == FilterType.EQUAL_TO)
    if value is None or expected is None:
        return False
    if kind == FilterType.STARTS_WITH:
        return value.startswith(expected)
    if kind == FilterType.ENDS_WITH:
        return value.endswith(expected)
    if kind == FilterType.CONTAINS:
        return expected in value
    try:
        return re.fullmatch(expected, value) is not None  # REGEX: Java's String.matches
    except re.error as err:
        raise ConditionError(f"invalid REGEX filter '{expected}': {err}") from None


def _render(render: Render, expression: str, variables: Mapping[str, Any]) -> Any:
    try:
        return render(expression, variables)
    except Exception as err:  # noqa: BLE001 - any rendering failure makes the condition fail, with its reason
        raise ConditionError(f"cannot render '{expression}': {err}") from None


_TESTS: tuple[tuple[type, Callable[..., bool]], ...] = (
    (c.ExecutionFlow, _flow), (c.FlowCondition, _flow), (c.ExecutionNamespace, _namespace),
    (c.FlowNamespaceCondition, _flow_namespace), (c.ExecutionStatus, _status),
    (c.ExecutionLabels, _labels), (c.ExecutionOutputs, _outputs), (c.Expression, _expression),
    (c.Not, _not), (c.Or, _or), (UpstreamFlow, _upstream_flow), (PreconditionWhere, _where),
)


def with_trigger_outputs(variables: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """``variables`` plus ``trigger.outputs`` (the upstream flow outputs)."""
    merged = dict(variables)
    trigger = dict(merged.get("trigger") or {})
    trigger["outputs"] = dict(outputs)
    merged["trigger"] = trigger
    return merged


RenderValue = Callable[[Any, Mapping[str, Any]], Any]
"""Renders every string of a value against variables (``Renderer.render_value``)."""


def start_context(variables: Mapping[str, Any], upstream: Upstream) -> dict[str, Any]:
    """``variables`` with ``trigger`` as the execution the trigger starts will see it (its
    ``trigger.executionId``, ``flowId``...): what its inputs and labels are rendered with."""
    return {**variables, "trigger": upstream.trigger_variables()}


def render_inputs(trigger: FlowTrigger, context: Mapping[str, Any], outputs: Mapping[str, Any],
                  render_value: RenderValue) -> dict[str, Any]:
    """The trigger's ``inputs`` rendered against :func:`start_context` and ``trigger.outputs``
    (the upstream flow outputs).

    Raises whatever ``render_value`` raises: Kestra then logs a warning and starts nothing.
    """
    if not trigger.inputs:
        return {}
    rendering = with_trigger_outputs(context, outputs) if outputs else context
    return dict(render_value(dict(trigger.inputs), rendering))


def render_labels(trigger: FlowTrigger, context: Mapping[str, Any], render_value: RenderValue) -> dict[str, str]:
    """The trigger's ``labels`` (a map or ``[{key, value}]``) rendered against :func:`start_context`."""
    if not trigger.labels:
        return {}
    return label_pairs(render_value(trigger.labels, context))
