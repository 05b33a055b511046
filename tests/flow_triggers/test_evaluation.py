"""Pure evaluation of Flow triggers: conditions, preconditions filters, windows on a given clock."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.model.flow import Flow
from engine.plugins.core.triggers import FlowTrigger
from engine.plugins.registry import default_registry
from engine.schedule.flow_trigger import Upstream, listens_to, match
from engine.schedule.flow_window import Window, bounds, plan_windows
from engine.state import State
from engine.templating import Renderer

T0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
RENDER = Renderer().render_typed


def trigger(**options: Any) -> FlowTrigger:
    flow = Flow.model_validate({"id": "listener", "namespace": "company.team",
                                "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "m"}],
                                "triggers": [{"id": "on", "type": "io.kestra.plugin.core.trigger.Flow", **options}]},
                               context={"registry": default_registry()})
    assert flow.triggers is not None
    return flow.triggers[0]


def upstream(state: State = State.SUCCESS, namespace: str = "company.team", flow_id: str = "extract",
             labels: Mapping[str, str] | None = None, outputs: Mapping[str, Any] | None = None) -> Upstream:
    return Upstream("exec-1", namespace, flow_id, 3, state, dict(labels or {}), dict(outputs or {}))


def fires(options: dict[str, Any], up: Upstream, variables: Mapping[str, Any] | None = None) -> bool:
    found = match(trigger(**options), "company.team", "listener", up, variables or {}, RENDER)
    return found.listens and not found.hits


def cond(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": f"io.kestra.plugin.core.condition.{kind}", **props}


CASES = [
    ("no conditions: any terminal state", {}, upstream(), True),
    ("default states exclude RUNNING", {}, upstream(State.RUNNING), False),
    ("default states include PAUSED (Kestra 1.x)", {}, upstream(State.PAUSED), True),
    ("PAUSED asked for by ExecutionStatus", {"conditions": [cond("ExecutionStatus", **{"in": ["PAUSED"]})]},
     upstream(State.PAUSED), True),
    ("PAUSED not asked for by ExecutionStatus", {"conditions": [cond("ExecutionStatus", **{"in": ["FAILED"]})]},
     upstream(State.PAUSED), False),
    ("explicit states", {"states": ["RUNNING"]}, upstream(State.RUNNING), True),
    ("ExecutionFlow match", {"conditions": [cond("ExecutionFlow", namespace="company.team", flowId="extract")]},
     upstream(), True),
    ("ExecutionFlow other flow", {"conditions": [cond("ExecutionFlow", namespace="company.team", flowId="x")]},
     upstream(), False),
    ("legacy FlowCondition", {"conditions": [{"type": "io.kestra.core.models.conditions.types.FlowCondition",
                                              "namespace": "company.team", "flowId": "extract"}]}, upstream(), True),
    ("ExecutionStatus in", {"conditions": [cond("ExecutionStatus", **{"in": ["FAILED"]})]},
     upstream(State.FAILED), True),
    ("ExecutionStatus in, other state", {"conditions": [cond("ExecutionStatus", **{"in": ["FAILED"]})]},
     upstream(), False),
    ("ExecutionStatus notIn", {"conditions": [cond("ExecutionStatus", notIn=["SUCCESS"])]}, upstream(), False),
    ("ExecutionNamespace EQUALS", {"conditions": [cond("ExecutionNamespace", namespace="company")]}, upstream(), False),
    ("ExecutionNamespace PREFIX",
     {"conditions": [cond("ExecutionNamespace", namespace="company", comparison="PREFIX")]},
     upstream(), True),
    ("ExecutionNamespace legacy prefix", {"conditions": [cond("ExecutionNamespace", namespace="company", prefix=True)]},
     upstream(), True),
    ("ExecutionNamespace SUFFIX", {"conditions": [cond("ExecutionNamespace", namespace=".team", comparison="SUFFIX")]},
     upstream(), True),
    ("FlowNamespaceCondition prefix", {"conditions": [{"type": "io.kestra.plugin.core.condition.FlowNamespaceCondition",
                                                       "namespace": "comp", "prefix": True}]}, upstream(), True),
    ("ExecutionLabels present", {"conditions": [cond("ExecutionLabels", labels={"env": "prod"})]},
     upstream(labels={"env": "prod", "x": "y"}), True),
    ("ExecutionLabels list form, missing",
     {"conditions": [cond("ExecutionLabels", labels=[{"key": "env", "value": "prod"}])]},
     upstream(labels={"env": "dev"}), False),
    ("ExecutionOutputs true", {"conditions": [cond("ExecutionOutputs", expression="{{ trigger.outputs.n > 2 }}")]},
     upstream(outputs={"n": 3}), True),
    ("ExecutionOutputs false", {"conditions": [cond("ExecutionOutputs", expression="{{ trigger.outputs.n > 2 }}")]},
     upstream(outputs={"n": 1}), False),
    ("ExecutionOutputs without outputs", {"conditions": [cond("ExecutionOutputs", expression="{{ true }}")]},
     upstream(), False),
    ("Expression over variables", {"conditions": [cond("Expression", expression="{{ labels.env == 'prod' }}")]},
     upstream(), True),
    ("Expression that fails to render", {"conditions": [cond("Expression", expression="{{ nope.x }}")]},
     upstream(), False),
    ("Not", {"conditions": [cond("Not", conditions=[cond("ExecutionStatus", **{"in": ["FAILED"]})])]},
     upstream(), True),
    ("Or", {"conditions": [cond("Or", conditions=[cond("ExecutionStatus", **{"in": ["FAILED"]}),
                                                  cond("ExecutionFlow", namespace="company.team", flowId="extract")])]},
     upstream(), True),
]


@pytest.mark.parametrize("options,up,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_conditions(options: dict[str, Any], up: Upstream, expected: bool) -> None:
    assert fires(options, up, {"labels": {"env": "prod"}}) is expected


def test_a_flow_never_triggers_itself() -> None:
    assert not listens_to(trigger(), "company.team", "extract", upstream())
    assert listens_to(trigger(), "company.team", "other", upstream())


def test_a_disabled_trigger_does_not_listen() -> None:
    assert not listens_to(trigger(disabled=True), "company.team", "listener", upstream())


def test_an_unusable_condition_reports_why() -> None:
    found = match(trigger(conditions=[cond("Weekend")]), "company.team", "listener", upstream(), {}, RENDER)
    assert not found.listens
    assert "cannot be used on a Flow trigger" in found.errors[0]


def where(*filters: dict[str, Any], operand: str = "AND") -> dict[str, Any]:
    return {"preconditions": {"id": "pre", "where": [{"id": "w", "operand": operand, "filters": list(filters)}]}}


FILTERS = [
    ({"field": "FLOW_ID", "type": "EQUAL_TO", "value": "extract"}, True),
    ({"field": "FLOW_ID", "type": "NOT_EQUAL_TO", "value": "extract"}, False),
    ({"field": "STATE", "type": "IN", "values": ["FAILED", "SUCCESS"]}, True),
    ({"field": "STATE", "type": "NOT_IN", "values": ["SUCCESS"]}, False),
    ({"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"}, True),
    ({"field": "NAMESPACE", "type": "ENDS_WITH", "value": "company"}, False),
    ({"field": "NAMESPACE", "type": "CONTAINS", "value": "any.te"}, True),
    ({"field": "FLOW_ID", "type": "REGEX", "value": "ext.*"}, True),
    ({"field": "FLOW_ID", "type": "REGEX", "value": "ext"}, False),  # a full match, as Java's matches
    ({"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ labels.some == 'label' }}"}, True),
    ({"field": "EXPRESSION", "type": "IS_FALSE", "value": "{{ labels.some == 'label' }}"}, False),
    ({"field": "EXPRESSION", "type": "IS_NOT_NULL", "value": "{{ labels.some }}"}, True),
    ({"field": "FLOW_ID", "type": "IS_NULL"}, False),
]


@pytest.mark.parametrize("item,expected", FILTERS,
                         ids=[f"{f['field']}-{f['type']}-{f.get('value')}" for f, _ in FILTERS])
def test_preconditions_filters(item: dict[str, Any], expected: bool) -> None:
    found = match(trigger(**where(item)), "company.team", "listener", upstream(), {"labels": {"some": "label"}}, RENDER)
    assert found.listens and found.hits[0].met == (frozenset({"condition_1_w"}) if expected else frozenset())


def test_or_operand_needs_one_filter() -> None:
    options = where({"field": "FLOW_ID", "type": "EQUAL_TO", "value": "nope"},
                    {"field": "STATE", "type": "EQUAL_TO", "value": "SUCCESS"}, operand="OR")
    found = match(trigger(**options), "company.team", "listener", upstream(), {}, RENDER)
    assert found.hits[0].met == {"condition_1_w"}


def two_flows(**window: Any) -> FlowTrigger:
    return trigger(preconditions={"id": "both", "flows": [
        {"namespace": "company.team", "flowId": "a", "states": ["SUCCESS"]},
        {"namespace": "company.team", "flowId": "b", "labels": {"env": "prod"}}], **window})


def step(trig: FlowTrigger, up: Upstream, stored: dict[str, Window], now: datetime) -> bool:
    """Evaluates one event, applies the plan to ``stored`` like the repository does."""
    found = match(trig, "company.team", "listener", up, {}, RENDER)
    live = {k: w for k, w in stored.items() if w.holds(now)}
    plan = plan_windows([(h.spec, h.met) for h in found.hits], live, up.outputs, now)
    for window in plan.delete:
        stored.pop(window.condition_id, None)
    for window in plan.save:
        stored[window.condition_id] = window
    return plan.fire


def test_preconditions_fire_once_both_flows_met_and_reset() -> None:
    trig, stored = two_flows(), {}
    assert not step(trig, upstream(flow_id="a"), stored, T0)
    assert stored["both"].met == {"condition_1"}
    assert not step(trig, upstream(flow_id="b"), stored, T0 + timedelta(minutes=1))  # label missing
    assert step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, T0 + timedelta(minutes=2))
    assert stored == {}  # resetOnSuccess: the next pair must happen again
    assert not step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, T0 + timedelta(minutes=3))


def test_reset_on_success_false_fires_again_on_each_met_condition() -> None:
    trig = trigger(preconditions={"id": "both", "resetOnSuccess": False, "flows": [
        {"namespace": "company.team", "flowId": "a"}, {"namespace": "company.team", "flowId": "b"}]})
    stored: dict[str, Window] = {}
    step(trig, upstream(flow_id="a"), stored, T0)
    assert step(trig, upstream(flow_id="b"), stored, T0)
    assert step(trig, upstream(flow_id="a"), stored, T0 + timedelta(hours=1))
    assert not step(trig, upstream(flow_id="other"), stored, T0 + timedelta(hours=1))


def test_duration_window_expires_at_midnight() -> None:
    trig, stored = two_flows(), {}
    step(trig, upstream(flow_id="a"), stored, T0)
    next_day = T0.replace(hour=0) + timedelta(days=1, minutes=1)
    assert not step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, next_day)
    assert stored["both"].met == {"condition_2"} and stored["both"].start == T0.replace(hour=0) + timedelta(days=1)


def test_legacy_multiple_condition_window_and_advance() -> None:
    trig = trigger(conditions=[cond("MultipleCondition", id="mc", window="PT6H", windowAdvance="PT1H", conditions={
        "a": cond("ExecutionFlow", namespace="company.team", flowId="a"),
        "b": cond("ExecutionFlow", namespace="company.team", flowId="b")})])
    stored: dict[str, Window] = {}
    step(trig, upstream(flow_id="a"), stored, T0)  # 08:00 is in [07:00, 13:00)
    assert (stored["mc"].start.hour, stored["mc"].end.hour) == (7, 13)
    assert not step(trig, upstream(flow_id="b"), stored, T0.replace(hour=13))
    assert step(trig, upstream(flow_id="a"), stored, T0.replace(hour=14))


def test_plain_conditions_gate_the_window() -> None:
    """Kestra evaluates a MultipleCondition only when the trigger's other conditions pass."""
    trig = trigger(conditions=[cond("ExecutionStatus", **{"in": ["SUCCESS"]}), cond(
        "MultipleCondition", id="mc", window="P1D", conditions={
            "c": cond("ExecutionFlow", namespace="company.team", flowId="c")})])
    assert not match(trig, "company.team", "listener", upstream(State.FAILED, flow_id="c"), {}, RENDER).listens
    assert step(trig, upstream(flow_id="c"), {}, T0)


def test_sliding_window_opens_at_the_first_event() -> None:
    trig, stored = two_flows(timeWindow={"type": "SLIDING_WINDOW", "window": "PT1H"}), {}
    step(trig, upstream(flow_id="a"), stored, T0 + timedelta(minutes=30))
    assert stored["both"].start == T0 + timedelta(minutes=30)
    assert step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, T0 + timedelta(minutes=89))


def test_daily_deadline_ignores_later_events() -> None:
    trig, stored = two_flows(timeWindow={"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}), {}
    step(trig, upstream(flow_id="a"), stored, T0)
    assert not step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, T0 + timedelta(hours=1, seconds=1))
    assert stored["both"].met == {"condition_1"}


def test_daily_time_window_counts_only_inside() -> None:
    trig = two_flows(timeWindow={"type": "DAILY_TIME_WINDOW", "startTime": "10:00:00", "endTime": "12:00:00"})
    stored: dict[str, Window] = {}
    assert not step(trig, upstream(flow_id="a"), stored, T0) and stored == {}
    step(trig, upstream(flow_id="a"), stored, T0.replace(hour=10))
    assert step(trig, upstream(flow_id="b", labels={"env": "prod"}), stored, T0.replace(hour=11, minute=59))


def test_window_bounds_of_each_kind() -> None:
    trig = two_flows()
    spec = match(trig, "company.team", "listener", upstream(flow_id="a"), {}, RENDER).hits[0].spec
    assert bounds(spec, T0) == (T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1))


def test_window_outputs_are_merged_into_trigger_outputs() -> None:
    trig, stored = two_flows(), {}
    step(trig, upstream(flow_id="a", outputs={"x": 1}), stored, T0)
    found = match(trig, "company.team", "listener", upstream(flow_id="b", labels={"env": "prod"}, outputs={"y": 2}),
                  {}, RENDER)
    plan = plan_windows([(h.spec, h.met) for h in found.hits], stored, {"y": 2}, T0)
    assert plan.fire and plan.outputs == {"x": 1, "y": 2}
