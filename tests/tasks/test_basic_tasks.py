"""Log, Echo, Return, OutputValues, Fail, Sleep, Fetch, Resume, TemplatedTask through run_task."""
from __future__ import annotations

import json

import pytest

from engine.model.task import LogLevel
from engine.state import State
from tests.tasks.conftest import Run
from tests.tasks.helpers import World


def test_log_logs_each_message_of_a_list(run: Run, world: World) -> None:
    outcome = run({"type": "io.kestra.plugin.core.log.Log", "message": ["first {{ inputs.n }}", "second"],
                   "level": "WARN"}, variables={"inputs": {"n": 1}})
    assert outcome.state is State.SUCCESS and outcome.outputs == {}
    assert world.messages(LogLevel.WARN) == ["first 1", "second"]


def test_legacy_log_alias_runs(run: Run, world: World) -> None:
    assert run({"type": "io.kestra.core.tasks.log.Log", "message": "old"}).state is State.SUCCESS
    assert world.messages(LogLevel.INFO) == ["old"]


def test_return_renders_its_format(run: Run) -> None:
    outcome = run({"type": "io.kestra.plugin.core.debug.Return", "format": "{{ task.id }} > {{ inputs.x }}"},
                  variables={"inputs": {"x": "y"}})
    assert outcome.outputs == {"value": "task > y"}
    assert outcome.metrics[0].name == "length" and outcome.metrics[0].value == len("task > y")


def test_echo_logs_at_its_level(run: Run, world: World) -> None:
    run({"type": "io.kestra.core.tasks.debugs.Echo", "format": "echo {{ task.id }}", "level": "ERROR"})
    assert world.messages(LogLevel.ERROR) == ["echo task"]


def test_output_values_renders_strings_and_keeps_other_values(run: Run) -> None:
    outcome = run({"type": "io.kestra.plugin.core.output.OutputValues",
                   "values": {"output1": "xyz", "output2": "{{ inputs.v }}", "n": 3, "l": ["{{ inputs.v }}"]}},
                  variables={"inputs": {"v": "abc"}})
    assert outcome.outputs == {"values": {"output1": "xyz", "output2": "abc", "n": 3, "l": ["abc"]}}


def test_fail_without_condition_always_fails(run: Run, world: World) -> None:
    outcome = run({"type": "io.kestra.core.tasks.executions.Fail"})
    assert outcome.state is State.FAILED and outcome.error == "Task failure"
    assert world.messages(LogLevel.ERROR) == ["Task failure"]


@pytest.mark.parametrize(("flag", "state"), [(True, State.FAILED), (False, State.SUCCESS)])
def test_fail_with_condition(run: Run, flag: bool, state: State) -> None:
    outcome = run({"type": "io.kestra.plugin.core.execution.Fail", "condition": "{{ inputs.stop }}",
                   "errorMessage": "stopped by {{ task.id }}"}, variables={"inputs": {"stop": flag}})
    assert outcome.state is state
    assert outcome.error == ("stopped by task" if flag else None)


def test_sleep_succeeds(run: Run) -> None:
    assert run({"type": "io.kestra.plugin.core.flow.Sleep", "duration": "PT0.01S"}).state is State.SUCCESS


def test_fetch_writes_the_execution_logs_at_or_above_a_level(run: Run, world: World) -> None:
    run({"id": "task-1", "type": "io.kestra.plugin.core.debug.Echo", "format": "task 1"})
    run({"id": "task-2", "type": "io.kestra.plugin.core.debug.Echo", "format": "task 2"})
    run({"id": "noise", "type": "io.kestra.plugin.core.log.Log", "message": "quiet", "level": "DEBUG"})
    every = run({"id": "fetch", "type": "io.kestra.plugin.core.log.Fetch"})
    only = run({"id": "fetch2", "type": "io.kestra.plugin.core.log.Fetch", "tasksId": ["task-1"]})
    assert every.outputs["size"] == 2 and only.outputs["size"] == 1
    lines = world.storage.get(only.outputs["uri"]).decode().splitlines()
    assert json.loads(lines[0])["message"] == "task 1"
    assert only.outputs["uri"].startswith("kestra:///company/team/flow/executions/exec1/tasks/fetch2/")


def test_resume_resumes_a_paused_execution(run: Run, world: World) -> None:
    world.executions.paused["paused1"] = ("company.team", "flow")
    outcome = run({"type": "io.kestra.plugin.core.execution.Resume", "executionId": "{{ inputs.id }}",
                   "inputs": {"answer": "{{ inputs.a }}"}}, variables={"inputs": {"id": "paused1", "a": "yes"}})
    assert outcome.state is State.SUCCESS
    assert world.executions.resumed == {"paused1": {"answer": "yes"}}


def test_resume_of_an_unknown_execution_fails(run: Run) -> None:
    outcome = run({"type": "io.kestra.plugin.core.execution.Resume", "executionId": "nope"})
    assert outcome.state is State.FAILED and "no paused execution 'nope'" in (outcome.error or "")


def test_templated_task_renders_then_runs_the_inner_task(run: Run, world: World) -> None:
    outcome = run({"type": "io.kestra.plugin.core.templating.TemplatedTask",
                   "spec": "type: io.kestra.plugin.core.debug.Return\nformat: '{{ inputs.greeting }}'"},
                  variables={"inputs": {"greeting": "hello"}})
    assert outcome.state is State.SUCCESS and outcome.outputs == {"value": "hello"}


@pytest.mark.parametrize(("spec", "message"), [
    ("type: io.kestra.plugin.core.templating.TemplatedTask\nspec: x", "cannot be of type"),
    ("type: io.kestra.plugin.core.flow.Sequential\ntasks: []", "must be a runnable task"),
    ("type: io.kestra.plugin.core.log.Lgo", "did you mean 'io.kestra.plugin.core.log.Log'"),
    ("type: io.kestra.plugin.core.debug.Echo", "format"),
])
def test_templated_task_rejects_bad_specs(run: Run, spec: str, message: str) -> None:
    outcome = run({"type": "io.kestra.plugin.core.templating.TemplatedTask", "spec": spec})
    assert outcome.state is State.FAILED and message in (outcome.error or "")
