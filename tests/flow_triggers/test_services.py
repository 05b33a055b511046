"""Flow triggers on real services (SQLite and PostgreSQL), run inline with a controlled clock."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.executor import events as ev
from engine.model.execution import Execution
from engine.persistence.flows import FlowRepository
from engine.persistence.tables import logs
from engine.services.flow_triggers import FlowTriggerIndex
from engine.services.messages import encode_event
from engine.state import State
from tests.services.conftest import Engine

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "kestra-core" / "flows"
needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared conformance flows absent")


def deploy_files(engine: Engine, *names: str) -> None:
    for name in names:
        engine.services.deploy_source((CONFORMANCE / name).read_text(encoding="utf-8"), name)


def executions_of(engine: Engine, flow_id: str) -> list[Execution]:
    page = engine.services.env.executions.list(flow_id=flow_id, size=100)
    found = [engine.get(item.id) for item in page.items]
    return sorted(found, key=lambda e: e.state.histories[0].date)


def trigger_logs(engine: Engine, flow_id: str) -> list[str]:
    with engine.services.env.db.transaction(write=False) as session:
        return list(session.execute(select(logs.c.message).where(logs.c.flow_id == flow_id,
                                                                 logs.c.trigger_id.is_not(None))).scalars())


def triggered_by(engine: Engine, flow_id: str, upstream_id: str) -> list[Execution]:
    return [e for e in executions_of(engine, flow_id)
            if e.trigger is not None and e.trigger.variables.get("executionId") == upstream_id]


@needs_conformance
def test_group_a_listeners_of_trigger_flow(engine: Engine) -> None:
    deploy_files(engine, "trigger-flow.yaml", "trigger-flow-listener.yaml", "trigger-flow-listener-no-inputs.yaml",
                 "trigger-flow-listener-namespace-condition.yaml", "trigger-flow-listener-invalid.yaml")
    upstream = engine.start("io.kestra.tests.trigger", "trigger-flow")
    assert upstream.state.current == State.SUCCESS

    [listener] = triggered_by(engine, "trigger-flow-listener", upstream.id)
    assert listener.state.current == State.SUCCESS and len(listener.task_run_list) == 1
    assert listener.task_run_list[0].outputs["value"] == f"childs: from parents: {upstream.id}"
    assert listener.trigger is not None and listener.trigger.id == "listen-flow"
    assert listener.trigger.variables == {"executionId": upstream.id, "namespace": "io.kestra.tests.trigger",
                                          "flowId": "trigger-flow", "flowRevision": 1, "state": "SUCCESS"}
    [no_inputs] = triggered_by(engine, "trigger-flow-listener-no-inputs", upstream.id)
    assert no_inputs.state.current == State.SUCCESS
    assert no_inputs.task_run_list[0].outputs["value"] == f"v1: {upstream.id}"

    # Namespace listener: fires for every SUCCESS of the namespace but its own executions.
    by_namespace = executions_of(engine, "trigger-flow-listener-namespace-condition")
    assert {e.trigger.variables["flowId"] for e in by_namespace if e.trigger} == {
        "trigger-flow", "trigger-flow-listener", "trigger-flow-listener-no-inputs"}
    assert all(e.state.current == State.SUCCESS and len(e.task_run_list) == 1 for e in by_namespace)
    # '{{ outputs.invalid.value }}' cannot render: a warning, and no execution.
    assert executions_of(engine, "trigger-flow-listener-invalid") == []
    assert any("invalid inputs" in message for message in trigger_logs(engine, "trigger-flow-listener-invalid"))


@needs_conformance
def test_group_b_namespace_condition_after_flow_d(engine: Engine) -> None:
    deploy_files(engine, "trigger-flow-listener-namespace-condition.yaml", "trigger-multiplecondition-flow-c.yaml",
                 "trigger-multiplecondition-flow-d.yaml", "trigger-multiplecondition-failed.yaml")
    failed = engine.start("io.kestra.tests.trigger", "trigger-multiplecondition-flow-c")
    assert failed.state.current == State.FAILED
    assert executions_of(engine, "trigger-flow-listener-namespace-condition") == []
    succeeded = engine.start("io.kestra.tests.trigger", "trigger-multiplecondition-flow-d")
    [listener] = executions_of(engine, "trigger-flow-listener-namespace-condition")
    assert listener.state.current == State.SUCCESS
    assert listener.trigger is not None and listener.trigger.variables["executionId"] == succeeded.id
    # flow-c always fails and ExecutionStatus [SUCCESS] gates the MultipleCondition: never fires.
    assert executions_of(engine, "trigger-multiplecondition-failed") == []


@needs_conformance
def test_multiple_condition_listener_fires_when_a_and_b_succeeded(engine: Engine) -> None:
    deploy_files(engine, "trigger-multiplecondition-listener.yaml", "trigger-multiplecondition-flow-a.yaml",
                 "trigger-multiplecondition-flow-b.yaml")
    engine.start("io.kestra.tests.trigger", "trigger-multiplecondition-flow-a")
    assert executions_of(engine, "trigger-multiplecondition-listener") == []
    engine.clock.advance(seconds=1)
    b = engine.start("io.kestra.tests.trigger", "trigger-multiplecondition-flow-b")
    [listener] = executions_of(engine, "trigger-multiplecondition-listener")
    assert listener.state.current == State.SUCCESS and len(listener.task_run_list) == 1
    assert listener.trigger is not None and listener.trigger.variables["executionId"] == b.id
    assert listener.trigger.variables["flowId"] == "trigger-multiplecondition-flow-b"
    page = engine.services.env.executions.list(size=100)
    assert sum(1 for item in page.items if item.state.current == State.SUCCESS) == 3


@needs_conformance
def test_preconditions_listener(engine: Engine) -> None:
    deploy_files(engine, "flow-trigger-preconditions-flow-listen.yaml", "flow-trigger-preconditions-flow-a.yaml",
                 "flow-trigger-preconditions-flow-b.yaml")
    ns = "io.kestra.tests.trigger.preconditions"
    engine.start(ns, "flow-trigger-preconditions-flow-a")
    engine.start(ns, "flow-trigger-preconditions-flow-a")
    assert executions_of(engine, "flow-trigger-preconditions-flow-listen") == []
    engine.start(ns, "flow-trigger-preconditions-flow-b")
    [listener] = executions_of(engine, "flow-trigger-preconditions-flow-listen")
    assert listener.state.current == State.SUCCESS and len(listener.task_run_list) == 1


@needs_conformance
def test_listener_with_pause_fires_on_each_state_change(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each clock read moves 1 ms, so the listeners' start dates give their creation order.
    monkeypatch.setattr(type(engine.clock), "__call__", lambda self: self.advance(milliseconds=1))
    deploy_files(engine, "trigger-flow-with-pause.yaml", "trigger-flow-listener-with-pause.yaml")
    upstream = engine.start("io.kestra.tests.trigger.pause", "trigger-flow-with-pause")
    assert upstream.state.current == State.PAUSED
    engine.tick(seconds=1)
    assert engine.get(upstream.id).state.current == State.SUCCESS
    listeners = executions_of(engine, "trigger-flow-listener-with-pause")
    assert [e.outputs.get("status") for e in listeners] == ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert all(e.state.current == State.SUCCESS for e in listeners)


UPSTREAM = """
id: extract
namespace: company.team
tasks:
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "2024-06-01"
outputs:
  - id: date
    type: STRING
    value: "{{ outputs.last.value }}"
"""

DOWNSTREAM = """
id: transform
namespace: company.team
inputs:
  - id: date
    type: STRING
tasks:
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "up to {{ inputs.date }} after {{ trigger.flowId }}"
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    labels:
      source: flow-trigger
    inputs:
      date: "{{ trigger.outputs.date }}"
    preconditions:
      id: extract_done
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
"""


def test_inputs_are_rendered_from_the_upstream_flow_outputs(engine: Engine) -> None:
    engine.deploy(UPSTREAM)
    engine.deploy(DOWNSTREAM)
    upstream = engine.start("company.team", "extract")
    [downstream] = executions_of(engine, "transform")
    assert downstream.inputs == {"date": "2024-06-01"}
    assert downstream.task_run_list[0].outputs["value"] == "up to 2024-06-01 after extract"
    assert downstream.label_map["source"] == "flow-trigger"
    assert downstream.trigger is not None and downstream.trigger.variables["executionId"] == upstream.id


def test_a_redelivered_end_event_starts_one_execution(engine: Engine) -> None:
    engine.deploy(UPSTREAM)
    engine.deploy(DOWNSTREAM)
    upstream = engine.start("company.team", "extract")
    assert len(executions_of(engine, "transform")) == 1
    # The same end seen again (a redelivered event, a second executor): claimed already.
    assert engine.services.executions.flow_triggers.on_state(engine.get(upstream.id)) == []
    engine.services.executions.on_ended(engine.get(upstream.id))
    engine.drain()
    assert len(executions_of(engine, "transform")) == 1
    # A redelivered message to the executor changes nothing either.
    engine.executor.handle_event(upstream.id, encode_event(ev.Wake()))
    engine.drain()
    assert len(executions_of(engine, "transform")) == 1


def test_a_disabled_trigger_or_flow_does_not_fire(engine: Engine) -> None:
    engine.deploy(UPSTREAM)
    engine.deploy(DOWNSTREAM)
    switch = engine.worker.task_runs.triggers
    switch.set_enabled("company.team", "transform", "after_extract", False)
    engine.start("company.team", "extract")
    assert executions_of(engine, "transform") == []
    switch.set_enabled("company.team", "transform", "after_extract", True)
    engine.start("company.team", "extract")
    assert len(executions_of(engine, "transform")) == 1
    engine.deploy(DOWNSTREAM + "disabled: true\n")
    engine.start("company.team", "extract")
    assert len(executions_of(engine, "transform")) == 1


TOGGLER = """
id: toggler
namespace: company.team
inputs:
  - id: enabled
    type: BOOLEAN
tasks:
  - id: toggle
    type: io.kestra.plugin.core.trigger.Toggle
    flowId: transform
    trigger: after_extract
    enabled: "{{ inputs.enabled }}"
"""


def test_toggle_disables_then_reenables_a_trigger(engine: Engine) -> None:
    engine.deploy(UPSTREAM)
    engine.deploy(DOWNSTREAM)
    engine.deploy(TOGGLER)
    states = engine.services.env
    off = engine.start("company.team", "toggler", inputs={"enabled": "false"})
    assert off.state.current == State.SUCCESS
    from engine.persistence.triggers import TriggerStateRepository
    repository = TriggerStateRepository(states.db)
    assert repository.get("company.team", "transform", "after_extract").disabled is True
    engine.start("company.team", "extract")
    assert executions_of(engine, "transform") == []
    on = engine.start("company.team", "toggler", inputs={"enabled": "true"})
    assert on.state.current == State.SUCCESS
    assert repository.get("company.team", "transform", "after_extract").disabled is False
    engine.start("company.team", "extract")
    assert len(executions_of(engine, "transform")) == 1


def test_toggle_of_an_unknown_trigger_fails_clearly(engine: Engine) -> None:
    engine.deploy(DOWNSTREAM)
    failed = engine.run(TOGGLER.replace("after_extract", "nope").replace("id: toggler", "id: toggler2"),
                        inputs={"enabled": "false"})
    assert failed.state.current == State.FAILED
    assert any("Unable to find trigger nope for the flow company.team.transform" in m
               for m in engine.messages(failed.id))


@needs_conformance
def test_conformance_toggle_reenables_the_flows_own_schedule(engine: Engine) -> None:
    from engine.persistence.triggers import TriggerState, TriggerStateRepository
    deploy_files(engine, "trigger-toggle.yaml")
    repository = TriggerStateRepository(engine.services.env.db)
    repository.save(TriggerState("io.kestra.tests.trigger", "trigger-toggle", "schedule", disabled=True),
                    engine.clock())
    done = engine.start("io.kestra.tests.trigger", "trigger-toggle")
    assert done.state.current == State.SUCCESS and len(done.task_run_list) == 1
    assert repository.get("io.kestra.tests.trigger", "trigger-toggle", "schedule").disabled is False


LISTENER = """
id: listener
namespace: tests.index
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: heard
triggers:
  - id: on_upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.index
        flowId: upstream
"""


def test_the_trigger_index_is_read_at_most_once_a_second_but_at_once_after_a_deploy(engine: Engine) -> None:
    now = [100.0]
    index = FlowTriggerIndex(engine.services.flows, engine.services.executions.flow_triggers.windows,
                             clock=lambda: now[0])
    assert index.candidates() == []
    engine.deploy(LISTENER)  # through this process's catalog: seen at once
    assert [c.flow.id for c in index.candidates()] == ["listener"]
    # Another process deploys a second listener: seen once the index is a second old.
    FlowRepository(engine.services.env.db).save("tests.index", "listener2", LISTENER.replace(
        "id: listener\n", "id: listener2\n"), engine.clock())
    assert [c.flow.id for c in index.candidates()] == ["listener"]
    now[0] += 1.0
    assert sorted(c.flow.id for c in index.candidates()) == ["listener", "listener2"]
