"""execution.Exit, SetVariables and UnsetVariables: applied by ``advance`` itself, no worker."""
from __future__ import annotations

from engine.executor import ExecutionEnded, KillTaskRuns, Log, TaskRunResult
from engine.state import State
from tests.executor.helpers import Harness, load

EXIT = "io.kestra.plugin.core.execution.Exit"
SET = "io.kestra.plugin.core.execution.SetVariables"
UNSET = "io.kestra.plugin.core.execution.UnsetVariables"


def _states(harness: Harness) -> dict[str, str]:
    return {run.task_id: run.state.current.value for run in harness.current.task_run_list}


def _errors(harness: Harness) -> list[str]:
    return [c.message for c in harness.of_type(Log) if c.level == "ERROR"]


def test_exit_ends_the_execution_and_its_parents_in_its_state_and_nothing_after_runs() -> None:
    flow = load(f"""
id: exit
namespace: t
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: one
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ true }}}}"
    then:
      - id: stop
        type: {EXIT}
        state: WARNING
      - id: never_in_if
        type: io.kestra.plugin.core.log.Log
        message: never
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
outputs:
  - id: out
    type: STRING
    value: never rendered
""")
    harness = Harness(flow).start()
    assert harness.state == State.WARNING
    assert _states(harness) == {"first": "SUCCESS", "if": "WARNING", "stop": "WARNING"}
    assert [a.state.current for a in harness.run("stop").attempts] == [State.WARNING]
    assert harness.of_type(ExecutionEnded) == [ExecutionEnded(State.WARNING)]
    assert harness.current.outputs == {}  # as Kestra: the end is the Exit's, flow outputs are not rendered


def test_exit_kills_what_runs_in_other_branches_and_the_late_result_changes_nothing() -> None:
    flow = load(f"""
id: exit
namespace: t
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: podium.test.Echo
        format: x
      - id: branch
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: stop
            type: {EXIT}
            state: "{{{{ 'CANCEL' ~ 'ED' }}}}"
          - id: never
            type: io.kestra.plugin.core.log.Log
            message: never
""")
    harness = Harness(flow, hold={"slow"}).start()
    assert harness.state == State.CANCELLED
    assert _states(harness) == {"parallel": "CANCELLED", "slow": "KILLED", "branch": "CANCELLED",
                                "stop": "CANCELLED"}
    slow = harness.run("slow")
    assert harness.of_type(KillTaskRuns) == [KillTaskRuns((slow.id,), ())]
    harness.send(TaskRunResult(slow.id, 1, State.SUCCESS, {"value": "x"}))
    assert harness.state == State.CANCELLED and harness.run("slow").state.current == State.KILLED


def test_exit_killed_goes_through_the_kill_and_ends_killed() -> None:
    flow = load(f"""
id: exit
namespace: t
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: podium.test.Echo
      - id: stop
        type: {EXIT}
        state: KILLED
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
""")
    harness = Harness(flow, hold={"slow"}).start()
    assert harness.state == State.KILLING
    slow = harness.run("slow")
    assert KillTaskRuns((slow.id,), ()) in harness.of_type(KillTaskRuns)
    harness.send(TaskRunResult(slow.id, 1, State.KILLED))
    assert harness.state == State.KILLED
    assert _states(harness) == {"parallel": "KILLED", "slow": "KILLED", "stop": "KILLED"}


def test_exit_with_a_state_that_is_not_an_exit_state_fails_the_task() -> None:
    flow = load(f"""
id: exit
namespace: t
tasks:
  - id: stop
    type: {EXIT}
    state: "{{{{ 'DONE' }}}}"
""")
    harness = Harness(flow).start()
    assert harness.state == State.FAILED and _states(harness) == {"stop": "FAILED"}
    assert _errors(harness) == ["property 'state' rendered to 'DONE', which is not an exit state: "
                                "use one of SUCCESS, WARNING, KILLED, FAILED, CANCELED"]


def test_exit_skipped_by_run_if_lets_the_flow_go_on() -> None:
    flow = load(f"""
id: exit
namespace: t
tasks:
  - id: stop
    type: {EXIT}
    state: FAILED
    runIf: "{{{{ false }}}}"
  - id: next
    type: io.kestra.plugin.core.log.Log
    message: next
""")
    harness = Harness(flow).start()
    assert harness.state == State.SUCCESS and _states(harness) == {"stop": "SKIPPED", "next": "SUCCESS"}


def test_set_and_unset_variables_change_vars_for_later_tasks() -> None:
    flow = load(f"""
id: variables
namespace: t
variables:
  name: World
  nested: {{a: 1, b: 2}}
tasks:
  - id: set
    type: {SET}
    variables:
      message: Hello
      nested: {{b: "{{{{ 1 + 2 }}}}"}}
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ vars.message }}}} {{{{ vars.name }}}} {{{{ vars.nested.a }}}}{{{{ vars.nested.b }}}}"
  - id: unset
    type: {UNSET}
    variables: [message, nested.a, nested.gone]
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ vars.nested }}}} {{{{ vars.message ?? 'unset' }}}}"
""")
    harness = Harness(flow).start()
    assert harness.state == State.SUCCESS
    assert harness.run("hello").outputs == {"value": "Hello World 13"}
    assert harness.current.variables == {"name": "World", "nested": {"b": "3"}}
    assert harness.run("after").outputs == {"value": '{"b":"3"} unset'}


def test_set_variables_without_overwrite_refuses_an_existing_variable() -> None:
    flow = load(f"""
id: variables
namespace: t
variables:
  name: World
tasks:
  - id: set
    type: {SET}
    overwrite: false
    variables: {{name: Ada, other: x}}
""")
    harness = Harness(flow).start()
    assert harness.state == State.FAILED and harness.current.variables == {}
    assert _errors(harness) == ["`overwrite` is set to false and the following variables already exist: name"]


def test_unset_variables_through_a_missing_map_fails_unless_ignore_missing() -> None:
    source = f"""
id: variables
namespace: t
variables:
  name: World
tasks:
  - id: unset
    type: {UNSET}
    variables: ["missing.child", name]
"""
    failed = Harness(load(source)).start()
    assert failed.state == State.FAILED
    assert _errors(failed) == ["cannot unset variable 'missing.child': 'missing' is not a map of variables "
                               "(set ignoreMissing: true to skip it)"]
    ignored = Harness(load(source + "    ignoreMissing: true\n")).start()
    assert ignored.state == State.SUCCESS and ignored.current.variables == {}
