"""L1 pure core: the scratch state of one ``advance`` call, and the ``Step`` it returns.

:class:`Work` is created by ``advance`` and dropped when it returns; it holds the execution
being changed, the commands emitted so far and the collaborators (tree, registry, renderer).
Every part of the executor reads and changes the execution through it. Nothing outlives the
call, so ``advance`` stays a pure function of its arguments.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.executor.commands import Command
from engine.executor.tree import FlowTree
from engine.ids import new_id
from engine.model.execution import Attempt, Execution, StateRecord, TaskRun
from engine.model.flow import Flow
from engine.model.task import TaskOptions
from engine.plugins.base import Registry
from engine.state import State
from engine.templating import Renderer, is_template
from engine.variables import build_variables


@dataclass(frozen=True)
class Step:
    """What ``advance`` decided: the new execution, the commands to carry out after saving it,
    and the ids of the task runs that changed (new ones included), so the shell writes only those."""

    execution: Execution
    commands: tuple[Command, ...] = ()
    changed_task_run_ids: tuple[str, ...] = ()

    @property
    def execution_changed(self) -> bool:
        return bool(self.commands or self.changed_task_run_ids)


@dataclass
class Work:
    """The execution being changed by one ``advance`` call, with what the call needs to change it."""

    execution: Execution
    flow: Flow
    tree: FlowTree
    registry: Registry
    renderer: Renderer
    now: datetime
    extra: Mapping[str, Any] | None = None
    # Dispatch consecutive runnables of a sequence as one Celery chain (see docs/executor.md).
    chains: bool = True
    commands: list[Command] = field(default_factory=list)
    # advance_all applies several events and settles once, at the end (settling.settle).
    defer_settle: bool = False
    settle_due: bool = False

    def __post_init__(self) -> None:
        self.initial = self.execution  # as it was before this call (the SLA assertions compare)
        self.original = {run.id: run for run in self.execution.task_run_list}
        self._indexed: tuple[TaskRun, ...] | None = None
        self._positions: dict[str, int] = {}

    # -- reading -----------------------------------------------------------------------------
    def run(self, task_run_id: str) -> TaskRun:
        run = self.find_run(task_run_id)
        if run is None:
            raise KeyError(f"{self.execution.describe()} has no task run {task_run_id}")
        return run

    def find_run(self, task_run_id: str) -> TaskRun | None:
        position = self._index().get(task_run_id)
        return None if position is None else self.execution.task_run_list[position]

    def _index(self) -> dict[str, int]:
        """Positions by task run id, rebuilt only when the list was replaced other than by
        ``save``: an event of a 10,000-run execution looks runs up many times."""
        runs = self.execution.task_run_list
        if runs is not self._indexed:
            self._positions = {run.id: index for index, run in enumerate(runs)}
            self._indexed = runs
        return self._positions

    def children(self, parent_id: str | None) -> list[TaskRun]:
        return [run for run in self.execution.task_run_list if run.parent_task_run_id == parent_id]

    def changed_now(self, run: TaskRun) -> bool:
        """Whether ``run`` was created or changed during this advance call."""
        original = self.original.get(run.id)
        return original is not run and original != run  # identity first: most runs are untouched

    # -- writing -----------------------------------------------------------------------------
    def emit(self, command: Command) -> None:
        if command not in self.commands:
            self.commands.append(command)

    def save(self, run: TaskRun) -> TaskRun:
        """Replaces the run with ``run.id`` (in place in the order) or appends a new one."""
        positions = self._index()
        runs = list(self.execution.task_run_list)
        position = positions.get(run.id)
        if position is None:
            positions[run.id] = len(runs)
            runs.append(run)
        else:
            runs[position] = run
        self.execution = self.execution.model_copy(update={"task_run_list": tuple(runs)})
        self._indexed = self.execution.task_run_list
        return run

    def remove(self, task_run_id: str) -> None:
        """Drops a task run that never started (a chain link its chain will not reach)."""
        runs = tuple(run for run in self.execution.task_run_list if run.id != task_run_id)
        self.execution = self.execution.model_copy(update={"task_run_list": runs})

    def set_state(self, run: TaskRun, state: State, outputs: Mapping[str, Any] | None = None,
                  at: datetime | None = None) -> TaskRun:
        """``run`` in ``state`` since ``at`` (now by default), with ``outputs`` added."""
        if outputs:
            run = run.model_copy(update={"outputs": {**run.outputs, **outputs}})
        return self.save(run.with_state(state, self.now if at is None else at))

    def set_execution_state(self, state: State) -> None:
        self.execution = self.execution.with_state(state, self.now)

    def create_run(self, task: TaskOptions, parent_id: str | None, value: str | None = None,
                   iteration: int | None = None) -> TaskRun:
        run = TaskRun(id=new_id(), execution_id=self.execution.id, namespace=self.execution.namespace,
                      flow_id=self.execution.flow_id, task_id=task.id, parent_task_run_id=parent_id,
                      value=value, iteration=iteration, state=StateRecord.start(State.CREATED, self.now))
        return self.save(run)

    def add_attempt(self, run: TaskRun, state: State = State.CREATED) -> TaskRun:
        attempt = Attempt(state=StateRecord.start(state, self.now))
        return self.save(run.model_copy(update={"attempts": (*run.attempts, attempt)}))

    # -- rendering ---------------------------------------------------------------------------
    def variables(self, run: TaskRun | None = None, task: TaskOptions | None = None) -> dict[str, Any]:
        return build_variables(self.flow, self.execution, run, task, extra=self.extra)

    def render(self, template: Any, run: TaskRun | None = None, task: TaskOptions | None = None) -> str:
        if not isinstance(template, str):
            return _java_string(template)
        if not is_template(template):
            return template  # the variables (every output so far) are costly to build for nothing
        return str(self.renderer.render(template, self.variables(run, task)))

    def render_value(self, value: Any, run: TaskRun | None = None, task: TaskOptions | None = None) -> Any:
        return self.renderer.render_value(value, self.variables(run, task))

    def render_typed(self, template: Any, run: TaskRun | None = None, task: TaskOptions | None = None) -> Any:
        if not isinstance(template, str):
            return template
        return self.renderer.render_typed(template, self.variables(run, task))

    def step(self) -> Step:
        changed = tuple(run.id for run in self.execution.task_run_list if self.changed_now(run))
        return Step(self.execution, tuple(self.commands), changed)


def _java_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)

