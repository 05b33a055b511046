"""Joins: the task after a Parallel created with its fan-out, for the worker that writes the
fan-out's last success to start (engine/executor/joins.py). The fake worker here never takes a
join, so these also show the executor's own way: it sends the join once the Parallel ended."""
from __future__ import annotations

from engine.executor import DispatchTaskRuns, Kill, Start, TaskRunResult
from engine.state import State
from tests.executor.helpers import Harness, load
from tests.executor.test_chains import ECHO, flow_of

PARALLEL = "{{id: par, type: io.kestra.plugin.core.flow.Parallel{extra}, tasks: [{children}]}}"


def parallel(*children: str, extra: str = "") -> str:
    return PARALLEL.format(extra=extra, children=", ".join(children))


def two_children(fail: bool = False) -> tuple[str, str]:
    return f"{{id: p1, type: {ECHO}}}", f"{{id: p2, type: {ECHO}{', fail: true' if fail else ''}}}"


def task_ids(harness: Harness, ids: tuple[str, ...]) -> list[str]:
    return [next(r.task_id for r in harness.execution.task_run_list if r.id == i) for i in ids]


def test_the_task_after_a_parallel_is_created_with_its_fan_out_as_its_join() -> None:
    harness = Harness(load(flow_of(parallel(*two_children()), f"{{id: after, type: {ECHO}}}")))
    step = harness.send(Start())
    [command] = [c for c in step.commands if isinstance(c, DispatchTaskRuns)]
    assert task_ids(harness, command.task_run_ids) == ["p1", "p2"]
    after = harness.run("after")
    assert command.join == after.id and not command.chain
    assert after.state.current == State.CREATED and len(after.attempts) == 1  # a pending link
    harness.work()
    assert harness.state == State.SUCCESS
    # Nobody took the join: the executor sends it when the Parallel ended, unless a worker claimed it.
    [_, sent] = harness.of_type(DispatchTaskRuns)
    assert sent.task_run_ids == (after.id,) and sent.unless_claimed
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [
        ("par", State.SUCCESS), ("p1", State.SUCCESS), ("p2", State.SUCCESS), ("after", State.SUCCESS)]


def test_a_failed_child_removes_the_join_and_settling_decides_afresh() -> None:
    harness = Harness(load(flow_of(parallel(*two_children(fail=True)), f"{{id: after, type: {ECHO}}}",
                                   extra=f"errors:\n  - {{id: handler, type: {ECHO}}}\n"))).start()
    assert harness.state == State.FAILED
    # Kestra's task runs: the task after a failed Parallel never existed
    assert sorted(r.task_id for r in harness.execution.task_run_list) == ["handler", "p1", "p2", "par"]


def test_a_parallel_allowed_to_fail_recreates_its_join_and_goes_on() -> None:
    harness = Harness(load(flow_of(parallel(*two_children(fail=True), extra=", allowFailure: true"),
                                   f"{{id: after, type: {ECHO}}}"))).start()
    assert harness.state == State.WARNING
    assert harness.run("after").state.current == State.SUCCESS
    assert len(harness.runs("after")) == 1


def test_what_gets_no_join() -> None:
    after = f"{{id: after, type: {ECHO}}}"
    cases = [
        flow_of(parallel(*two_children(), extra=", concurrent: 1"), after),  # not all children at once
        flow_of(parallel(*two_children(), extra=f", finally: [{{id: fin, type: {ECHO}}}]"), after),
        flow_of(parallel(*two_children()), f"{{id: after, type: {ECHO}, runIf: 'true'}}"),
        flow_of(parallel(*two_children()), f"{{id: after, type: {ECHO}, workerGroup: {{key: gpu}}}}"),
        flow_of(parallel(two_children()[0], "{id: inner, type: io.kestra.plugin.core.flow.Sequential, "
                                            f"tasks: [{{id: s1, type: {ECHO}}}]}}"), after),
        flow_of(parallel(*two_children())),  # nothing after it
    ]
    for source in cases:
        harness = Harness(load(source)).start()
        assert harness.state == State.SUCCESS, source
        assert all(command.join is None for command in harness.of_type(DispatchTaskRuns)), source


def test_a_kill_while_the_fan_out_runs_drops_the_join() -> None:
    harness = Harness(load(flow_of(parallel(*two_children()), f"{{id: after, type: {ECHO}}}")))
    harness.hold = {"p1", "p2"}
    harness.start()
    harness.send(Kill())
    for run in list(harness.execution.task_run_list):
        if run.task_id in ("p1", "p2"):
            harness.send(TaskRunResult(run.id, 1, State.KILLED))
    assert harness.state == State.KILLED
    assert sorted(r.task_id for r in harness.execution.task_run_list) == ["p1", "p2", "par"]
