"""Chains: which consecutive runnables the executor dispatches as one Celery chain, and Kestra's
task run counts and states when a link fails, is killed, is retried or reports out of order."""
from __future__ import annotations

from engine.executor import DispatchTaskRuns, Kill, KillTaskRuns, Start, TaskRunResult, chains
from engine.state import State
from tests.executor.helpers import Harness, load

ECHO = "podium.test.Echo"


def flow_of(*tasks: str, extra: str = "") -> str:
    body = "\n".join(f"  - {t}" for t in tasks)
    return f"id: f\nnamespace: t\ntasks:\n{body}\n{extra}"


def dispatched(harness: Harness) -> list[tuple[list[str], bool]]:
    """Every DispatchTaskRuns as (task ids, chain)."""
    found = []
    for command in harness.of_type(DispatchTaskRuns):
        ids = [next((r.task_id for r in harness.execution.task_run_list if r.id == i), "<removed>")
               for i in command.task_run_ids]
        found.append((ids, command.chain))
    return found


def test_consecutive_runnables_are_one_chain_created_up_front() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}, format: 'v{i}'}}" for i in range(5))))
    harness = Harness(flow)
    step = harness.send(Start())
    [command] = [c for c in step.commands if isinstance(c, DispatchTaskRuns)]
    assert command.chain is True
    assert [r.task_id for r in harness.execution.task_run_list] == ["t0", "t1", "t2", "t3", "t4"]
    assert all(len(r.attempts) == 1 and r.state.current == State.CREATED for r in harness.execution.task_run_list)
    harness.work()
    assert harness.state == State.SUCCESS
    assert harness.count == 5
    assert len(harness.of_type(DispatchTaskRuns)) == 1  # no round trip through the executor


def test_each_link_sees_the_outputs_of_the_previous_ones() -> None:
    tasks = [f"{{id: t1, type: {ECHO}, format: 'a'}}"]
    tasks += [f"{{id: t{i}, type: {ECHO}, format: '{{{{ outputs.t{i - 1}.value }}}}b'}}" for i in range(2, 6)]
    harness = Harness(load(flow_of(*tasks))).start()
    assert harness.state == State.SUCCESS
    assert harness.run("t5").outputs == {"value": "abbbb"}


def test_what_breaks_a_chain() -> None:
    flow = load(flow_of(
        f"{{id: a, type: {ECHO}}}",
        f"{{id: b, type: {ECHO}}}",
        f"{{id: skipped, type: {ECHO}, disabled: true}}",   # no task run: the chain goes over it
        f"{{id: c, type: {ECHO}}}",
        f"{{id: guarded, type: {ECHO}, runIf: 'true'}}",    # runIf is rendered by the executor
        f"{{id: d, type: {ECHO}}}",
        f"{{id: gpu, type: {ECHO}, workerGroup: {{key: gpu}}}}",  # another worker group
        "{id: cond, type: io.kestra.plugin.core.flow.If, condition: 'true', then: ["
        f"{{id: in1, type: {ECHO}}}, {{id: in2, type: {ECHO}}}]}}",  # a flowable
        f"{{id: e, type: {ECHO}}}",
    ))
    harness = Harness(flow).start()
    assert harness.state == State.SUCCESS
    assert dispatched(harness) == [
        (["a", "b", "c"], True), (["guarded", "d"], True), (["gpu"], False), (["in1", "in2"], True),
        (["e"], False)]


def test_sequential_and_errors_are_chained_parallel_branches_are_a_group() -> None:
    flow = load(flow_of(
        "{id: par, type: io.kestra.plugin.core.flow.Parallel, tasks: ["
        f"{{id: p1, type: {ECHO}}}, {{id: p2, type: {ECHO}}}]}}",
        "{id: seq, type: io.kestra.plugin.core.flow.Sequential, tasks: ["
        f"{{id: s1, type: {ECHO}}}, {{id: s2, type: {ECHO}}}, {{id: s3, type: {ECHO}, fail: true}}]}}",
        extra=f"errors:\n  - {{id: e1, type: {ECHO}}}\n  - {{id: e2, type: {ECHO}}}\n"))
    harness = Harness(flow).start()
    assert harness.state == State.FAILED
    assert dispatched(harness) == [(["p1", "p2"], False), (["s1", "s2", "s3"], True), (["e1", "e2"], True)]
    assert sorted(r.task_id for r in harness.execution.task_run_list) == \
        ["e1", "e2", "p1", "p2", "par", "s1", "s2", "s3", "seq"]


def test_foreach_and_working_directory_children_are_not_chained() -> None:
    flow = load(flow_of(
        "{id: each, type: io.kestra.plugin.core.flow.ForEach, values: [x, y], tasks: ["
        f"{{id: f1, type: {ECHO}}}, {{id: f2, type: {ECHO}}}]}}"))
    harness = Harness(flow).start()
    assert harness.state == State.SUCCESS
    assert all(not chain for _, chain in dispatched(harness))


def test_a_failing_link_removes_the_links_it_never_reached() -> None:
    flow = load(flow_of(
        f"{{id: t1, type: {ECHO}}}", f"{{id: t2, type: {ECHO}, fail: true}}",
        f"{{id: t3, type: {ECHO}}}", f"{{id: t4, type: {ECHO}}}",
        extra=f"errors:\n  - {{id: handler, type: {ECHO}}}\n"))
    harness = Harness(flow).start()
    assert harness.state == State.FAILED
    # Kestra's counts: t3 and t4 never existed
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [
        ("t1", State.SUCCESS), ("t2", State.FAILED), ("handler", State.SUCCESS)]


def test_allow_failure_link_stops_the_chain_and_the_sequence_carries_on() -> None:
    flow = load(flow_of(
        f"{{id: t1, type: {ECHO}, fail: true, allowFailure: true}}",
        f"{{id: t2, type: {ECHO}}}", f"{{id: t3, type: {ECHO}}}"))
    harness = Harness(flow).start()
    assert harness.state == State.WARNING
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [
        ("t1", State.WARNING), ("t2", State.SUCCESS), ("t3", State.SUCCESS)]
    assert dispatched(harness) == [(["t1", "<removed>", "<removed>"], True), (["t2", "t3"], True)]


def test_retry_in_a_chain_goes_back_to_the_executor_then_chains_again() -> None:
    flow = load(flow_of(
        f"{{id: t1, type: {ECHO}}}",
        f"{{id: t2, type: {ECHO}, failAttempts: 2, retry: {{type: constant, interval: PT1S, maxAttempt: 3}}}}",
        f"{{id: t3, type: {ECHO}}}", f"{{id: t4, type: {ECHO}}}"))
    harness = Harness(flow).start()
    assert harness.state == State.RUNNING
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [
        ("t1", State.SUCCESS), ("t2", State.RETRYING)]
    harness.run_timers()
    assert harness.state == State.SUCCESS
    assert [r.task_id for r in harness.execution.task_run_list] == ["t1", "t2", "t3", "t4"]
    assert len(harness.run("t2").attempts) == 3
    assert [ids for ids, _ in dispatched(harness)][-1] == ["t2", "t3", "t4"]


def test_kill_during_a_chain_keeps_only_the_links_that_started() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}}}" for i in range(1, 5))))
    harness = Harness(flow)
    harness.hold = {"t2"}
    harness.start()
    assert harness.run("t2").state.current == State.RUNNING
    step = harness.send(Kill())
    [kill] = [c for c in step.commands if isinstance(c, KillTaskRuns)]
    assert kill.task_run_ids == (harness.run("t2").id,)  # t3, t4 never started: not killed
    assert harness.state == State.KILLING
    harness.send(TaskRunResult(harness.run("t2").id, 1, State.KILLED))
    assert harness.state == State.KILLED
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [
        ("t1", State.SUCCESS), ("t2", State.KILLED)]


def test_kill_while_the_head_of_a_chain_is_queued() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}}}" for i in range(1, 4))))
    harness = Harness(flow)
    harness.send(Start())
    harness.pending.clear()
    step = harness.send(Kill())
    [kill] = [c for c in step.commands if isinstance(c, KillTaskRuns)]
    assert kill.task_run_ids == (harness.run("t1").id,)
    # the worker finds the execution KILLING and reports the head KILLED; the chain stops there
    harness.send(TaskRunResult(harness.run("t1").id, 1, State.KILLED))
    assert harness.state == State.KILLED
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [("t1", State.KILLED)]


def test_a_link_that_ends_success_after_the_kill_drops_the_rest() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}}}" for i in range(1, 4))))
    harness = Harness(flow)
    harness.send(Start())
    harness.pending.clear()
    t1 = harness.run("t1").id
    harness.send(TaskRunResult(t1, 1, State.RUNNING))
    harness.send(Kill())
    harness.send(TaskRunResult(t1, 1, State.SUCCESS))
    assert harness.state == State.KILLED
    assert [(r.task_id, r.state.current) for r in harness.execution.task_run_list] == [("t1", State.SUCCESS)]


def test_results_of_later_links_may_arrive_before_earlier_ones() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}}}" for i in range(1, 4))))
    harness = Harness(flow)
    harness.send(Start())
    harness.pending.clear()
    ids = [harness.run(f"t{i}").id for i in range(1, 4)]
    for run_id in reversed(ids):  # the executor threads took the messages out of order
        harness.send(TaskRunResult(run_id, 1, State.RUNNING))
        harness.send(TaskRunResult(run_id, 1, State.SUCCESS, {"value": run_id}))
        assert harness.state == (State.SUCCESS if run_id == ids[0] else State.RUNNING)
    assert harness.count == 3


def test_pending_links_are_known_and_long_sequences_are_cut() -> None:
    flow = load(flow_of(*(f"{{id: t{i}, type: {ECHO}}}" for i in range(chains.MAX_CHAIN + 5))))
    harness = Harness(flow)
    harness.send(Start())
    [first] = harness.of_type(DispatchTaskRuns)
    assert len(first.task_run_ids) == chains.MAX_CHAIN
    harness.work()
    assert harness.state == State.SUCCESS
    assert harness.count == chains.MAX_CHAIN + 5
    assert [len(c.task_run_ids) for c in harness.of_type(DispatchTaskRuns)] == [chains.MAX_CHAIN, 5]
