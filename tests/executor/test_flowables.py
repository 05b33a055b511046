"""Flowable resolution: task run counts and states of Kestra's conformance flows, and each
flowable's own rules (Parallel and ForEach limits, Dag order, If/Switch outputs, disabled tasks)."""
from __future__ import annotations

import pytest

from engine.executor import DispatchTaskRuns, Log, Start
from engine.state import State
from tests.executor.helpers import Harness, load, load_conformance

# (file, inputs, expected state, expected task run count) from conformance expected.yaml
CONFORMANCE_CASES = [
    ("sequential.yaml", {}, State.SUCCESS, 11),
    ("parallel.yaml", {}, State.SUCCESS, 8),
    ("parallel-nested.yaml", {}, State.SUCCESS, None),
    ("each-sequential-nested.yaml", {}, State.SUCCESS, 23),
    ("each-parallel-nested.yaml", {}, State.SUCCESS, 11),
    ("foreach-concurrent-parallel.yaml", {}, State.SUCCESS, 10),
    ("foreach-non-concurrent.yaml", {}, State.SUCCESS, 7),
    ("dag.yaml", {}, State.SUCCESS, 7),
    ("if.yaml", {"if1": True, "if2": False, "if3": True}, State.SUCCESS, 12),
    ("switch.yaml", {"string": "FIRST"}, State.SUCCESS, 2),
    ("switch.yaml", {"string": "SECOND"}, State.SUCCESS, 3),
    ("switch.yaml", {"string": "THIRD"}, State.FAILED, 4),
    ("errors.yaml", {}, State.FAILED, 7),
    ("sequential-with-local-errors.yaml", {}, State.FAILED, 6),
    ("task-runif.yml", {}, State.FAILED, 4),
    ("disable-simple.yaml", {}, State.SUCCESS, 2),
    ("disable-flowable.yaml", {}, State.FAILED, 10),
    ("all-flowable.yaml", {}, State.FAILED, 26),
    ("each-empty.yaml", {}, State.SUCCESS, 2),
    ("each-null.yaml", {}, State.FAILED, 1),
    ("allow-failure.yaml", {}, State.WARNING, 9),
]


@pytest.mark.parametrize(("name", "inputs", "state", "count"), CONFORMANCE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONFORMANCE_CASES)])
def test_conformance_flow_state_and_task_run_count(name: str, inputs: dict, state: State, count: int | None) -> None:
    harness = Harness(load_conformance(name), inputs=inputs).start()
    assert harness.state == state
    if count is not None:
        assert harness.count == count


def test_iterated_outputs_are_keyed_by_the_value_chain() -> None:
    harness = Harness(load_conformance("each-sequential-nested.yaml")).start()
    inner = next(r for r in harness.runs("1-2-1_return") if r.value == "a a"
                 and harness.execution.task_run(harness.execution.task_run(r.parent_task_run_id).id).value == "s1")
    assert harness.run("2_return").outputs["value"] == "2_return > " + inner.outputs["value"]
    seconds = [r for r in harness.runs("1-2-2_return") if r.value == "a a"]
    assert any("get " + inner.outputs["value"] in r.outputs["value"] for r in seconds)


def test_switch_outputs_value_and_defaults() -> None:
    harness = Harness(load_conformance("switch.yaml"), inputs={"string": "FIRST"}).start()
    assert harness.run("parent-seq").outputs == {"value": "FIRST", "defaults": False}
    other = Harness(load_conformance("switch.yaml"), inputs={"string": "NOPE"}).start()
    assert other.run("parent-seq").outputs["defaults"] is True
    assert [r.task_id for r in other.execution.task_run_list] == ["parent-seq", "default"]


def test_if_records_evaluation_result_and_runs_else() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ 1 == 2 }}"
    then: [{id: yes, type: podium.test.Echo}]
    else: [{id: no, type: podium.test.Echo}]
""")
    harness = Harness(flow).start()
    assert harness.run("if").outputs == {"evaluationResult": False}
    assert [r.task_id for r in harness.execution.task_run_list] == ["if", "no"]


def test_parallel_respects_concurrent_limit() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - {id: a, type: podium.test.Echo}
      - {id: b, type: podium.test.Echo}
      - {id: c, type: podium.test.Echo}
""")
    harness = Harness(flow)
    harness.hold = {"a", "b", "c"}
    harness.start()
    assert [r.task_id for r in harness.execution.task_run_list] == ["par", "a", "b"]
    harness.hold = set()
    harness.pending.append(harness.run("a").id)
    harness.work()
    assert [r.task_id for r in harness.execution.task_run_list] == ["par", "a", "b", "c"]


def test_foreach_concurrency_limit_runs_value_groups_in_sequence() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y", "z"]
    concurrencyLimit: 2
    tasks:
      - {id: first, type: podium.test.Echo, format: "{{ taskrun.value }}"}
      - {id: second, type: podium.test.Echo, format: "{{ outputs.first[taskrun.value].value }}"}
""")
    harness = Harness(flow)
    harness.hold = {"first", "second"}
    harness.start()
    started = [(r.task_id, r.value) for r in harness.execution.task_run_list[1:]]
    assert started == [("first", "x"), ("first", "y")]
    harness.hold = set()
    harness.pending = [r.id for r in harness.execution.task_run_list[1:]]
    harness.work()
    assert harness.state == State.SUCCESS
    assert harness.run("second", "z").outputs == {"value": "z"}
    assert harness.run("first", "y").iteration == 1


def test_dag_starts_a_task_once_its_dependencies_ended() -> None:
    harness = Harness(load_conformance("dag.yaml"))
    harness.send(Start())
    first = harness.of_type(DispatchTaskRuns)[0]
    assert [harness.execution.task_run(i).task_id for i in first.task_run_ids] == ["task1"]
    harness.work()
    order = [r.task_id for r in harness.execution.task_run_list]
    assert order.index("task5") > order.index("task4") > order.index("task2")
    assert order.index("task6") > order.index("task3")


def test_each_null_value_fails_with_kestra_message() -> None:
    harness = Harness(load_conformance("each-null.yaml")).start()
    messages = [c.message for c in harness.of_type(Log)]
    assert any("Found '1' null values on Each, with values=[1, null, {key=my-key, value=my-value}]" in m
               for m in messages)
    assert harness.run("1_each").state.current == State.FAILED


def test_disabled_tasks_get_no_task_run() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - {id: a, type: podium.test.Echo, disabled: true}
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - {id: b, type: podium.test.Echo, disabled: true}
  - {id: c, type: podium.test.Echo}
""")
    harness = Harness(flow).start()
    assert [r.task_id for r in harness.execution.task_run_list] == ["seq", "c"]
    assert harness.run("seq").state.current == State.SUCCESS
