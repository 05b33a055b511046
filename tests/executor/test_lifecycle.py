"""Life cycle: pause and resume, kill, subflows, ForEachItem, WaitFor, WorkingDirectory, labels,
flow outputs, afterExecution, and idempotent events."""
from __future__ import annotations

from datetime import timedelta

from engine.executor import (
    CancelTimers,
    DispatchWorkingDirectory,
    ItemsMerged,
    ItemsSplit,
    Kill,
    KillTaskRuns,
    MergeItemsOutputs,
    Resume,
    ScheduleTimer,
    SplitItems,
    Start,
    StartSubflow,
    SubflowEnded,
    SubflowStarted,
    TaskRunResult,
    TimerKind,
)
from engine.state import State
from tests.executor.helpers import T0, Harness, load, load_conformance

ECHO = "podium.test.Echo"


def test_pause_delay_resumes_by_itself() -> None:
    harness = Harness(load_conformance("pause-delay.yaml")).start()
    assert harness.state == State.PAUSED
    assert harness.count == 1
    timer = harness.fire_next_timer()
    assert timer.kind == TimerKind.PAUSE_DELAY and timer.at == T0 + timedelta(seconds=1)
    assert harness.state == State.SUCCESS
    assert harness.count == 3
    history = [h.state for h in harness.run("pause").state.histories]
    assert history == [State.CREATED, State.RUNNING, State.PAUSED, State.RUNNING, State.SUCCESS]


def test_pause_timeout_fails_the_pause() -> None:
    harness = Harness(load_conformance("pause-timeout.yaml")).start().run_timers()
    assert harness.state == State.FAILED
    assert harness.count == 1
    assert [h.state for h in harness.run("pause").state.histories][-2:] == [State.PAUSED, State.FAILED]


def test_manual_resume_with_on_resume_inputs() -> None:
    harness = Harness(load_conformance("pause_on_resume_optional.yaml")).start()
    assert harness.state == State.PAUSED
    harness.send(Resume({"asked": "restarted"}))
    harness.work()
    assert harness.run("pause").outputs == {"onResume": {"asked": "restarted"}}
    assert harness.run("last").outputs["values"] == {"asked": "restarted"}
    assert harness.state == State.SUCCESS
    assert State.RESTARTED in [h.state for h in harness.execution.state.histories]


def test_resume_cancels_the_pause_timers() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - {{id: pause, type: io.kestra.plugin.core.flow.Pause, timeout: PT1H}}
  - {{id: after, type: {ECHO}}}
""")
    harness = Harness(flow).start()
    step = harness.send(Resume({}))
    assert CancelTimers(harness.run("pause").id) in step.commands
    harness.work()
    assert harness.state == State.SUCCESS


def test_kill_kills_created_and_asks_workers_to_stop_running() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks: [{{id: a, type: {ECHO}}}, {{id: b, type: {ECHO}}}]
  - {{id: never, type: {ECHO}}}
""")
    harness = Harness(flow)
    harness.hold = {"a", "b"}
    harness.start()
    step = harness.send(Kill())
    assert harness.state == State.KILLING
    kill = next(c for c in step.commands if isinstance(c, KillTaskRuns))
    assert set(kill.task_run_ids) == {harness.run("a").id, harness.run("b").id}
    for task_id in ("a", "b"):
        run = harness.run(task_id)
        harness.send(TaskRunResult(run.id, 1, State.KILLED))
    assert harness.state == State.KILLED
    assert harness.run("par").state.current == State.KILLED
    assert not harness.runs("never")


def test_duplicate_and_stale_results_change_nothing() -> None:
    flow = load(f"id: f\nnamespace: t\ntasks:\n  - {{id: a, type: {ECHO}}}\n  - {{id: b, type: {ECHO}}}")
    harness = Harness(flow)
    harness.hold = {"a"}
    harness.start()
    run = harness.run("a")
    first = harness.send(TaskRunResult(run.id, 1, State.SUCCESS))
    again = harness.send(TaskRunResult(run.id, 1, State.SUCCESS))
    stale = harness.send(TaskRunResult(run.id, 7, State.FAILED))
    assert first.changed_task_run_ids
    assert again.changed_task_run_ids == () and again.commands == ()
    assert stale.changed_task_run_ids == ()
    assert harness.count == 2


def test_subflow_waits_and_maps_outputs_and_failure() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: t
    flowId: child
    inputs: {who: "{{ flow.id }}"}
    labels: {team: data}
""")
    harness = Harness(flow).start()
    command = harness.of_type(StartSubflow)[0]
    assert (command.namespace, command.flow_id, command.inputs, command.wait) == ("t", "child", {"who": "f"}, True)
    assert ("team", "data") in command.labels and command.labels[0][0] == "system.correlationId"
    harness.send(SubflowStarted(command.task_run_id, "child-1"))
    assert harness.state == State.RUNNING
    harness.send(SubflowEnded(command.task_run_id, "child-1", State.FAILED, {"o": 1}))
    assert harness.run("call").outputs == {"executionId": "child-1", "state": "FAILED", "outputs": {"o": 1}}
    assert harness.state == State.FAILED


def test_subflow_without_wait_succeeds_once_started() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - {id: call, type: io.kestra.plugin.core.flow.Subflow, namespace: t, flowId: child, wait: false}
""")
    harness = Harness(flow).start()
    harness.send(SubflowStarted(harness.run("call").id, "child-1"))
    assert harness.state == State.SUCCESS


def test_for_each_item_runs_its_split_items_and_merge_task_runs() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: kestra:///file.txt
    batch: {rows: 2}
    namespace: t
    flowId: child
    inputs: {batch: "{{ taskrun.items }}", n: "{{ taskrun.iteration }}"}
""")
    harness = Harness(flow).start()
    [split] = harness.of_type(SplitItems)
    assert (split.items, split.rows, split.listed) == ("kestra:///file.txt", 2, False)
    assert split.task_run_id == harness.run("each_split").id
    harness.send(ItemsSplit(split.task_run_id, ("kestra:///b1", "kestra:///b2"), "kestra:///splits.txt"))
    assert harness.run("each_split").outputs == {"splits": "kestra:///splits.txt"}
    listing = harness.of_type(SplitItems)[-1]  # the _items task run reads the batches back
    items_id = harness.run("each_items").id
    assert (listing.task_run_id, listing.items, listing.listed) == (items_id, "kestra:///splits.txt", True)
    harness.send(ItemsSplit(items_id, ("kestra:///b1", "kestra:///b2")))
    starts = harness.of_type(StartSubflow)
    assert [s.inputs for s in starts] == [{"batch": "kestra:///b1", "n": "0"}, {"batch": "kestra:///b2", "n": "1"}]
    for index, start in enumerate(starts):
        harness.send(SubflowStarted(items_id, f"c{index}", start.iteration))
        harness.send(SubflowEnded(items_id, f"c{index}", State.SUCCESS, {}, start.iteration))
    items = harness.run("each_items")
    assert items.state.current == State.SUCCESS
    assert items.outputs == {"numberOfBatches": 2, "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2}}
    merge_id = harness.run("each_merge").id
    assert harness.of_type(MergeItemsOutputs) == [MergeItemsOutputs(merge_id, items_id)]
    harness.send(ItemsMerged(merge_id, "kestra:///merged.ion"))
    assert harness.run("each_merge").outputs == {"subflowOutputs": "kestra:///merged.ion"}
    assert harness.run("each").outputs == {} and harness.run("each").state.current == State.SUCCESS
    assert [run.task_id for run in harness.execution.task_run_list] == ["each", "each_split", "each_items",
                                                                      "each_merge"]
    assert harness.state == State.SUCCESS


def test_for_each_item_failed_batches_fail_items_then_allow_failure_makes_it_a_warning() -> None:
    flow = load("""
id: f
namespace: t
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    allowFailure: true
    items: kestra:///file.txt
    namespace: t
    flowId: child
  - {id: after, type: podium.test.Echo}
""")
    harness = Harness(flow).start()
    harness.send(ItemsSplit(harness.run("each_split").id, ("kestra:///b1",), "kestra:///splits.txt"))
    items_id = harness.run("each_items").id
    harness.send(ItemsSplit(items_id, ("kestra:///b1",)))
    harness.send(SubflowStarted(items_id, "c0", 0))
    harness.send(SubflowEnded(items_id, "c0", State.FAILED, {}, 0))
    assert harness.run("each_items").state.current == State.FAILED
    assert harness.run("each").state.current == State.WARNING
    assert "each_merge" not in [run.task_id for run in harness.execution.task_run_list]
    assert harness.run("after").state.current == State.CREATED  # the flow goes on


def test_waitfor_iterates_until_the_condition_with_interval_timers() -> None:
    harness = Harness(load_conformance("waitfor-multiple-tasks.yaml")).start().run_timers()
    assert harness.state == State.SUCCESS
    assert harness.execution.task_run_list[-1].outputs["values"]["count"] == "4"
    assert harness.run("waitfor").outputs["iterationCount"] == 3
    timers = harness.of_type(ScheduleTimer)
    assert [t.at - T0 for t in timers] == [timedelta(seconds=1), timedelta(seconds=2)]


def test_waitfor_limits() -> None:
    assert Harness(load_conformance("waitfor-no-success.yaml")).start().run_timers().state == State.SUCCESS
    assert Harness(load_conformance("waitfor-max-duration.yaml")).start().run_timers().state == State.FAILED
    failed = Harness(load_conformance("waitfor-multiple-tasks-failed.yaml")).start().run_timers()
    assert failed.state == State.FAILED and failed.run("waitfor").outputs["iterationCount"] == 1


def test_working_directory_is_dispatched_as_one_unit() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks: [{{id: inner, type: {ECHO}}}]
  - {{id: after, type: {ECHO}}}
""")
    harness = Harness(flow).start()
    wd = harness.run("wd")
    assert harness.of_type(DispatchWorkingDirectory) == [DispatchWorkingDirectory(wd.id)]
    harness.send(TaskRunResult(wd.id, 1, State.RUNNING))
    harness.send(TaskRunResult("child-run", 1, State.SUCCESS, {"v": 1}, task_id="inner", parent_task_run_id=wd.id))
    assert harness.run("inner").outputs == {"v": 1}
    harness.send(TaskRunResult(wd.id, 1, State.SUCCESS))
    harness.work()
    assert harness.state == State.SUCCESS
    assert [r.task_id for r in harness.execution.task_run_list] == ["wd", "inner", "after"]


def test_a_working_directory_child_skipped_by_run_if_is_recorded_without_attempts() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks: [{{id: inner, type: {ECHO}, runIf: "false"}}]
""")
    harness = Harness(flow).start()
    wd = harness.run("wd")
    harness.send(TaskRunResult(wd.id, 1, State.RUNNING))
    harness.send(TaskRunResult("child-run", 1, State.SKIPPED, {}, task_id="inner", parent_task_run_id=wd.id))
    inner = harness.run("inner")
    assert [h.state for h in inner.state.histories] == [State.CREATED, State.SKIPPED] and not inner.attempts
    harness.send(TaskRunResult(wd.id, 1, State.SUCCESS))
    harness.work()
    assert harness.state == State.SUCCESS


def test_labels_task_updates_execution_labels_and_refuses_system_ones() -> None:
    harness = Harness(load_conformance("labels-update-task.yml"), inputs={
        "labelsJson": {"fromJson": "j"}, "labelsMapKey": "mk", "labelsMapValue": "mv",
        "labelsListKey": "lk", "labelsListValue": "lv"}).start()
    labels = harness.execution.label_map
    assert labels["fromJson"] == "j" and labels["mk"] == "mv" and labels["lk"] == "lv"
    assert labels["overriddenFlowLabelKey"] == "io.kestra.tests.labels-update-task"
    flow = load("id: f\nnamespace: t\ntasks:\n  - {id: l, type: io.kestra.plugin.core.execution.Labels, "
                "labels: {system.app: x}}")
    assert Harness(flow).start().state == State.FAILED


def test_flow_outputs_rendered_at_the_end_and_after_execution_runs_last() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - {{id: a, type: {ECHO}, format: hello}}
outputs:
  - {{id: greeting, type: STRING, value: "{{{{ outputs.a.value }}}}"}}
afterExecution:
  - {{id: notify, type: {ECHO}, format: "{{{{ execution.state }}}}"}}
""")
    harness = Harness(flow).start()
    assert harness.execution.outputs == {"greeting": "hello"}
    assert harness.run("notify").outputs == {"value": "SUCCESS"}
    assert harness.state == State.SUCCESS


def test_flow_output_render_failure_fails_the_execution() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - {{id: a, type: {ECHO}}}
outputs:
  - {{id: broken, type: STRING, value: "{{{{ outputs.nope.value }}}}"}}
""")
    assert Harness(flow).start().state == State.FAILED


def test_a_result_never_reported_running_records_running_at_the_worker_s_start() -> None:
    flow = load(f"id: f\nnamespace: t\ntasks:\n  - {{id: a, type: {ECHO}}}\n  - {{id: b, type: {ECHO}}}")
    harness = Harness(flow)
    harness.hold = {"a", "b"}
    harness.send(Start())
    a = harness.run("a")
    assert a.attempts[0].state.current == State.CREATED  # dispatched, no RUNNING report
    harness.now = T0 + timedelta(seconds=10)
    started = T0 + timedelta(seconds=4)
    harness.send(TaskRunResult(a.id, 1, State.SUCCESS, worker_id="w1", started_at=started.isoformat()))
    a = harness.run("a")
    for record in (a.state, a.attempts[0].state):
        assert [(h.state, h.date) for h in record.histories] == [
            (State.CREATED, T0), (State.RUNNING, started), (State.SUCCESS, harness.now)]
    assert a.attempts[0].worker_id == "w1"
    # A worker clock ahead of the executor's: RUNNING is never dated after the result is applied.
    b = harness.run("b")
    harness.send(TaskRunResult(b.id, 1, State.SUCCESS, started_at=(harness.now + timedelta(hours=1)).isoformat()))
    b = harness.run("b")
    assert [h.date for h in b.state.histories][1:] == [harness.now, harness.now]
