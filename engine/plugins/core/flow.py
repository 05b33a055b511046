"""L1 pure core: options of the flowable control tasks (Sequential, Parallel, If, Switch, Dag, AllowFailure).

These tasks never reach a worker: the executor (``engine.executor``) resolves their children.
Iteration tasks live in ``flow_each.py``, subflows in ``flow_subflow.py``, waiting tasks
(Pause, WaitFor), WorkingDirectory and Template in ``flow_wait.py``, and ``execution.Labels``
in ``flow_labels.py``. Type names and aliases follow Kestra's ``@Plugin`` annotations.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from engine.model.task import FlowableOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec, Task, TaskList

PREFIX = "io.kestra.plugin.core.flow."
LEGACY = "io.kestra.core.tasks.flows."

NO_TASK_DEFINED = "No task defined"
SWITCH_EMPTY = "No task defined, neither cases or default have any tasks"
DAG_UNKNOWN = "Not existing task id in dependency: {ids}"
DAG_CYCLE = "Cyclic dependency detected: {ids}"


class Sequential(FlowableOptions):
    tasks: TaskList = Field(min_length=1, description="Tasks run one after the other.")


class Parallel(FlowableOptions):
    tasks: TaskList = Field(min_length=1, description="Tasks started together.")
    concurrent: int = Field(0, ge=0, description="How many child tasks run at once; 0 means no limit.")


class If(FlowableOptions):
    condition: str | bool | int | None = dynamic(..., "Truthy unless it renders to false, 0, -0 or empty.")
    then: TaskList = Field(min_length=1, description="Tasks run when the condition is truthy.")
    else_: TaskList | None = Field(None, description="Tasks run when the condition is falsy.")


class Switch(FlowableOptions):
    value: str | int | bool = dynamic(..., "Rendered, then compared with the keys of `cases`.")
    cases: dict[str, TaskList] | None = Field(None, description="Tasks to run for each value.")
    defaults: TaskList | None = Field(None, description="Tasks run when no case matches.")

    @model_validator(mode="after")
    def _needs_tasks(self) -> Switch:
        # Kestra's SwitchTaskValidation: at least one case or the defaults must hold tasks.
        if not any(self.cases.values() if self.cases else ()) and not self.defaults:
            raise ValueError(SWITCH_EMPTY)
        return self


class DagTask(Options):
    task: Task
    depends_on: list[str] | None = Field(None, description="Ids of sibling tasks that must end first.")


class Dag(FlowableOptions):
    tasks: list[DagTask] = Field(description="Tasks with their dependencies.")
    concurrent: int = Field(0, ge=0, description="How many child tasks run at once; 0 means no limit.")

    @model_validator(mode="after")
    def _valid_graph(self) -> Dag:
        if not self.tasks:
            raise ValueError(NO_TASK_DEFINED)
        unknown = dag_unknown_dependencies(self.tasks)
        if unknown:
            raise ValueError(DAG_UNKNOWN.format(ids=", ".join(unknown)))
        cycle = dag_cycle(self.tasks)
        if cycle:
            raise ValueError(DAG_CYCLE.format(ids=", ".join(cycle)))
        return self


def dag_unknown_dependencies(tasks: list[DagTask]) -> list[str]:
    known = {t.task.id for t in tasks}
    return [dep for t in tasks for dep in (t.depends_on or ()) if dep not in known]


def dag_cycle(tasks: list[DagTask]) -> list[str]:
    """The ids on the first dependency cycle found (depth-first), or an empty list."""
    depends = {t.task.id: list(t.depends_on or ()) for t in tasks}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):]
        if node in done:
            return []
        for dep in depends.get(node, ()):
            found = visit(dep, [*path, node])
            if found:
                return found
        done.add(node)
        return []

    for task_id in depends:
        found = visit(task_id, [])
        if found:
            return sorted(found)
    return []


class AllowFailure(FlowableOptions):
    tasks: TaskList = Field(min_length=1, description="Tasks whose failure only makes this task WARNING.")


_EXAMPLE_SEQUENTIAL = """\
id: sequential
namespace: company.team
tasks:
  - id: sequential
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: first
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
"""

_EXAMPLE_IF = """\
id: if_condition
namespace: company.team
inputs:
  - id: string
    type: STRING
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.string == 'Condition' }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.log.Log
        message: "Condition was true"
    else:
      - id: when_false
        type: io.kestra.plugin.core.log.Log
        message: "Condition was false"
"""

_EXAMPLE_DAG = """\
id: dag
namespace: company.team
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: I'm the task 1
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: I'm the task 2
        dependsOn:
          - task1
"""


def _spec(name: str, options: type[Any], title: str, description: str = "",
          examples: tuple[str, ...] = (), aliases: tuple[str, ...] | None = None) -> PluginSpec:
    return PluginSpec(type=PREFIX + name, kind=PluginKind.FLOWABLE, options=options, title=title,
                      description=description, examples=examples,
                      aliases=(LEGACY + name,) if aliases is None else aliases)


SPECS: list[PluginSpec] = [
    _spec("Sequential", Sequential, "Run tasks one after the other.",
          "Groups tasks; `errors` and `finally` apply to the group.", (_EXAMPLE_SEQUENTIAL,)),
    _spec("Parallel", Parallel, "Run tasks in parallel.",
          "Starts the child tasks together, at most `concurrent` at a time (0 = no limit)."),
    _spec("If", If, "Run tasks depending on a condition.",
          "`then` runs when the condition is truthy, `else` otherwise. Output: `evaluationResult`.",
          (_EXAMPLE_IF,)),
    _spec("Switch", Switch, "Run the tasks of the case matching a value.",
          "Falls back to `defaults` when no case matches. Outputs: `value`, `defaults`."),
    _spec("Dag", Dag, "Run tasks following their dependencies.",
          "A task starts once every task in its `dependsOn` has ended.", (_EXAMPLE_DAG,)),
    _spec("AllowFailure", AllowFailure, "Run tasks whose failure does not fail the flow.",
          "A failing child makes this task WARNING, and the flow continues."),
]
