"""Execution operations (create, restart, replay, change task run state, resume) and build_variables."""
from __future__ import annotations

import pytest

from engine.executor import (
    ItemsSplit,
    OperationRefused,
    SplitItems,
    StartSubflow,
    SubflowEnded,
    SubflowStarted,
    Wake,
    change_task_run_state,
    create_execution,
    replay,
    restart,
    resume,
)
from engine.state import State
from engine.variables import build_variables
from tests.executor.helpers import REGISTRY, T0, Harness, load, load_conformance

ECHO = "podium.test.Echo"


def test_create_execution_labels_and_correlation_id() -> None:
    flow = load(f"id: f\nnamespace: t\nlabels: {{team: a, env: dev}}\ntasks:\n  - {{id: x, type: {ECHO}}}")
    execution = create_execution(flow, {"i": 1}, {"env": "prod"}, T0)
    assert execution.label_map["team"] == "a" and execution.label_map["env"] == "prod"
    assert execution.label_map["system.correlationId"] == execution.id
    child = create_execution(flow, {}, None, T0, parent=execution)
    assert child.label_map["system.correlationId"] == execution.id
    assert execution.state.current == State.CREATED


def test_restart_reruns_failed_task_and_drops_errors_runs() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - {{id: ok, type: {ECHO}}}
  - {{id: ko, type: {ECHO}, failAttempts: 1}}
errors:
  - {{id: handler, type: {ECHO}}}
""")
    harness = Harness(flow).start()
    assert harness.state == State.FAILED and harness.runs("handler")
    harness.execution = restart(harness.execution, flow, T0, registry=REGISTRY)
    assert harness.state == State.RESTARTED and not harness.runs("handler")
    assert harness.execution.metadata.attempt_number == 2
    harness.send(Wake())
    harness.work()
    assert harness.state == State.SUCCESS
    assert len(harness.run("ko").attempts) == 2 and len(harness.run("ok").attempts) == 1


def test_restart_of_a_failed_for_each_item_starts_its_batches_again() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - {id: each, type: io.kestra.plugin.core.flow.ForEachItem, items: "kestra:///f.txt", namespace: t, flowId: c}
""")
    harness = Harness(flow).start()
    harness.send(ItemsSplit(harness.run("each_split").id, ("kestra:///b1",), "kestra:///splits.txt"))
    items_id = harness.run("each_items").id
    harness.send(ItemsSplit(items_id, ("kestra:///b1",)))
    harness.send(SubflowStarted(items_id, "c0", 0))
    harness.send(SubflowEnded(items_id, "c0", State.FAILED, {}, 0))
    assert harness.state == State.FAILED
    harness.execution = restart(harness.execution, flow, T0, registry=REGISTRY)
    harness.send(Wake())
    assert harness.of_type(SplitItems)[-1].listed and harness.run("each_items").outputs == {}
    harness.send(ItemsSplit(items_id, ("kestra:///b1",)))
    [*_, again] = harness.of_type(StartSubflow)
    harness.send(SubflowStarted(items_id, "c1", again.iteration))
    harness.send(SubflowEnded(items_id, "c1", State.SUCCESS, {}, again.iteration))
    assert harness.run("each_items").outputs["iterations"]["SUCCESS"] == 1
    assert harness.run("each_merge").state.current == State.RUNNING


def test_restart_refuses_a_running_execution() -> None:
    flow = load(f"id: f\nnamespace: t\ntasks:\n  - {{id: x, type: {ECHO}}}")
    harness = Harness(flow)
    harness.hold = {"x"}
    harness.start()
    with pytest.raises(OperationRefused):
        restart(harness.execution, flow, T0, registry=REGISTRY)


def test_replay_from_a_task_run_keeps_earlier_runs_in_a_new_execution() -> None:
    flow = load_conformance("each-parallel-nested.yaml")
    harness = Harness(flow).start()
    target = harness.run("2-1_seq", "value 1")
    replayed = replay(harness.execution, flow, target.id, T0, registry=REGISTRY)
    assert replayed.id != harness.execution.id and replayed.parent_id == harness.execution.id
    assert replayed.state.current == State.RESTARTED
    assert len(replayed.task_run_list) == 8  # expected.yaml replay-from-seq
    again = Harness(flow, execution=replayed)
    again.send(Wake())
    again.work()
    assert again.state == State.SUCCESS and again.count == 11


def test_change_task_run_state_restarts_the_flow() -> None:
    flow = load_conformance("each-parallel-nested.yaml")
    harness = Harness(flow).start()
    target = harness.run("2-1_seq", "value 1")
    changed = change_task_run_state(harness.execution, flow, target.id, State.FAILED, T0)
    assert changed.state.current == State.RESTARTED
    assert changed.task_run(target.id).state.current == State.FAILED
    each = next(r for r in changed.task_run_list if r.task_id == "1_each")
    assert each.state.current == State.RUNNING
    harness.execution = changed
    harness.send(Wake())
    assert harness.state == State.FAILED


def test_resume_refuses_a_non_paused_execution() -> None:
    flow = load(f"id: f\nnamespace: t\ntasks:\n  - {{id: x, type: {ECHO}}}")
    harness = Harness(flow).start()
    with pytest.raises(OperationRefused):
        resume(harness.execution, flow, {}, T0, registry=REGISTRY)


def test_build_variables_for_a_nested_iteration() -> None:
    flow = load_conformance("each-parallel-nested.yaml")
    harness = Harness(flow).start()
    run = harness.runs("2-1-1_t1")[0]
    variables = build_variables(flow, harness.execution, run, flow.find_task("2-1-1_t1"), extra={"globals": {"g": 1}})
    assert variables["task"] == {"id": "2-1-1_t1", "type": "io.kestra.plugin.core.log.Log"}
    assert variables["parents"][0]["taskrun"]["value"] == harness.execution.task_run(run.parent_task_run_id).value
    assert variables["parent"] == variables["parents"][0]
    assert variables["taskrun"]["attemptsCount"] == 1 and variables["taskrun"]["parentId"] == run.parent_task_run_id
    assert variables["labels"]["system"]["correlationId"] == harness.execution.id
    assert variables["execution"]["state"] == "SUCCESS" and variables["globals"] == {"g": 1}
    assert variables["outputs"]["2_end"]["value"].startswith("2_end > ")
    assert variables["tasks"]["2-1_seq"]["value 1"] == {"state": "SUCCESS"}
