"""A WorkingDirectory runs its whole subtree on one worker, in one folder.

The executor dispatches the WorkingDirectory task run as one unit. Here its runnable children
run one after another in a shared temporary folder; each child is reported to the executor as
a task run of its own (created here, so the executor learns its id from the report). When a
child fails, the WorkingDirectory's ``errors`` tasks run in the same folder, then ``finally``.
"""
from __future__ import annotations

import glob
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.ids import new_id
from engine.model.execution import Attempt, Execution, StateRecord, TaskRun
from engine.model.task import TaskOptions
from engine.plugins.base import Registry
from engine.plugins.core.flow_wait import WorkingDirectory
from engine.state import State
from engine.storage.access import is_file_uri
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskOutcome
from engine.tasks.task_cache import run_cached
from engine.templating.truth import is_truthy

# Builds the RunContext of one child: (execution snapshot, child run, child task, shared folder).
ContextFactory = Callable[[Execution, TaskRun, TaskOptions, Path], RunContext]
Report = Callable[[TaskRun, State, dict[str, Any]], None]


@dataclass
class _Progress:
    execution: Execution
    failed: bool = False


def run_working_directory(execution: Execution, run: TaskRun, task: WorkingDirectory, registry: Registry,
                          make_context: ContextFactory, report: Report, now: Callable[[], datetime]) -> TaskOutcome:
    """Runs ``task``'s children in one folder; returns the WorkingDirectory's own outcome."""
    folder = Path(tempfile.mkdtemp(prefix="podium-wd-"))
    try:
        progress = _Progress(execution)
        _write_input_files(task, folder, make_context, execution, run)
        steps = _Steps(progress, run, registry, make_context, report, folder, now)
        steps.run_all(task.tasks or [], stop_on_failure=True)
        if progress.failed:
            steps.run_all(task.errors or [], stop_on_failure=False)
        steps.run_all(task.finally_ or [], stop_on_failure=False)
        outputs = _output_files(task, folder, make_context, execution, run)
        return TaskOutcome(State.FAILED if progress.failed else State.SUCCESS, outputs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Steps:
    progress: _Progress
    parent: TaskRun
    registry: Registry
    make_context: ContextFactory
    report: Report
    folder: Path
    now: Callable[[], datetime]

    def run_all(self, tasks: list[TaskOptions], *, stop_on_failure: bool) -> None:
        for child_task in tasks:
            if stop_on_failure and self.progress.failed:
                return
            if not child_task.disabled:
                self.run_one(child_task)

    def run_one(self, child_task: TaskOptions) -> None:
        parent, now = self.parent, self.now
        child = TaskRun(id=new_id(), execution_id=parent.execution_id, namespace=parent.namespace,
                        flow_id=parent.flow_id, task_id=child_task.id, parent_task_run_id=parent.id,
                        state=StateRecord.start(State.CREATED, now()))
        snapshot = self.progress.execution.with_task_run(child)
        # Stored without a value (outputs stay keyed by the WorkingDirectory's own value), but
        # rendered with the iteration value: Kestra's children see it as `taskrun.value`.
        seen_as = child.model_copy(update={"value": parent.value})
        with self.make_context(snapshot, seen_as, child_task, self.folder) as ctx:
            outcome = _skipped(child_task, ctx)
            if outcome is None or outcome.state != State.SKIPPED:
                child = child.model_copy(update={"state": child.state.with_state(State.RUNNING, now()),
                                                 "attempts": (Attempt(state=StateRecord.start(State.RUNNING, now())),)})
                self.report(child, State.RUNNING, {})
            if outcome is None:
                outcome = run_cached(self.registry.resolve(child_task.type), child_task, ctx)
        state = _allowed(child_task, outcome.state)
        self.report(child, state, outcome.outputs)
        finished = child.model_copy(update={"outputs": outcome.outputs, "state": StateRecord.start(state, now())})
        self.progress.execution = self.progress.execution.with_task_run(finished)
        if state == State.FAILED:
            self.progress.failed = True


def _skipped(task: TaskOptions, ctx: RunContext) -> TaskOutcome | None:
    """A child whose ``runIf`` renders falsy is SKIPPED, as the executor does outside a
    WorkingDirectory (and Kestra's worker inside one); one that fails to render FAILED."""
    if task.run_if is None:
        return None
    try:
        truthy = is_truthy(ctx.render_text(task.run_if))
    except Exception as error:  # noqa: BLE001 - any render failure (undefined variable, bad filter) fails the task
        ctx.logger.error(f"runIf could not be rendered: {error}")
        return TaskOutcome(State.FAILED, {})
    return None if truthy else TaskOutcome(State.SKIPPED, {})


def _allowed(task: TaskOptions, state: State) -> State:
    if state == State.FAILED and task.allow_failure:
        state = State.WARNING
    if state == State.WARNING and task.allow_warning:
        state = State.SUCCESS
    return state


def _write_input_files(task: WorkingDirectory, folder: Path, make_context: ContextFactory, execution: Execution,
                       run: TaskRun) -> None:
    files = task.input_files
    if not files:
        return
    with make_context(execution, run, task, folder) as ctx:
        rendered = ctx.render(files)
        for name, content in dict(rendered).items():
            target = (folder / name).resolve()
            if folder.resolve() not in target.parents:
                raise ValueError(f"inputFiles: '{name}' leaves the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            text = str(content)
            data = ctx.read_file(text) if is_file_uri(text) else text.encode()
            target.write_bytes(data)


def _output_files(task: WorkingDirectory, folder: Path, make_context: ContextFactory, execution: Execution,
                  run: TaskRun) -> dict[str, Any]:
    patterns = task.output_files
    if not patterns:
        return {}
    uris: dict[str, str] = {}
    with make_context(execution, run, task, folder) as ctx:
        for pattern in patterns:
            for match in sorted(glob.glob(str(folder / pattern), recursive=True)):
                path = Path(match)
                if path.is_file():
                    name = path.relative_to(folder).as_posix()
                    uris[name] = ctx.put_file(path, name.replace("/", "_"))
    return {"outputFiles": uris}
