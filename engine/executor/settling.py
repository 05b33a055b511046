"""L1 pure core: settling: end finished flowables, create next task runs, start created ones.

``settle`` repeats the three passes until nothing changes, then derives the execution's state.
It is what every event handler calls after recording its fact, like Kestra's
``ExecutorService.process`` pipeline.
"""
from __future__ import annotations

from typing import cast

from engine.executor import chains, execution_updates, flow_level, joins, sla, task_lifecycles
from engine.executor import resolve as rs
from engine.executor.commands import CancelTimers, DispatchTaskRuns, DispatchWorkingDirectory, KillTaskRuns, Log
from engine.executor.flowables import START_HOOKS, FlowableError, branches_of, nexts_of, short_type, state_of
from engine.executor.step_state import Work
from engine.model.execution import TaskRun
from engine.model.task import TaskOptions
from engine.plugins.base import PluginKind
from engine.plugins.core.flow_wait import Pause, WaitFor
from engine.state import CREATED_STATES, State
from engine.templating.truth import is_truthy

MAX_PASSES = 10_000  # a guard against a resolution bug looping forever, far above any real flow


def settle(work: Work) -> None:
    if work.defer_settle:
        work.settle_due = True  # advance_all settles once, after its last event
        return
    to_dispatch: list[str] = []
    assertions_due = True  # once per settle, when the passes have nothing left to do
    for _ in range(MAX_PASSES):
        progressed = end_flowables(work)
        progressed = create_nexts(work) or progressed
        progressed = start_created(work, to_dispatch) or progressed
        if not progressed and assertions_due:
            assertions_due = False
            progressed = sla.check_assertions(work)  # a violation that ends it starts afterExecution
        # the end of the execution may start afterExecution tasks, hence one more round
        if not progressed and not flow_level.finish_execution(work):
            break
    sla.after_settle(work)
    to_dispatch = joins.plan(work, to_dispatch)
    if to_dispatch:
        work.emit(DispatchTaskRuns(tuple(to_dispatch)))


# -- pass 1: flowables whose children all ended -----------------------------------------------
def end_flowables(work: Work) -> bool:
    progressed = False
    for run in reversed(work.execution.task_run_list):
        if run.state.current != State.RUNNING or not _resolved_here(work, run):
            continue
        task = work.tree.task(run.task_id)
        runs = task_lifecycles.child_runs(work, task, run)
        if work.execution.state.current == State.KILLING:
            state = State.KILLED if all(r.state.current.is_terminated for r in runs) else None
        else:
            state = _flowable_state(work, task, run, runs)
        if state is not None:
            work.set_state(run, state)
            joins.after_end(work, work.run(run.id), state)
            progressed = True
    return progressed


def _flowable_state(work: Work, task: TaskOptions, run: TaskRun, runs: list[TaskRun]) -> State | None:
    try:
        if short_type(task) == "WaitFor":
            return task_lifecycles.waitfor_state(work, cast(WaitFor, task), run, runs)
        state = state_of(task, branches_of(work, task, run), runs)
        if state is not None and short_type(task) == "Pause":
            return task_lifecycles.pause_state(work, cast(Pause, task), run, state)
        return state
    except FlowableError as error:
        _fail(work, run, str(error))
        return None


def _resolved_here(work: Work, run: TaskRun) -> bool:
    """Flowables resolved by the executor; WorkingDirectory subtrees are the worker's."""
    if run.task_id not in work.tree or work.tree.is_in_working_directory(run.task_id):
        return False
    task = work.tree.task(run.task_id)
    return work.tree.kind(run.task_id) == PluginKind.FLOWABLE and short_type(task) != "WorkingDirectory"


# -- pass 2: next task runs -------------------------------------------------------------------
def create_nexts(work: Work) -> bool:
    if work.execution.state.current in (State.KILLING, State.KILLED):
        return False
    progressed = flow_level.create_root_nexts(work)
    for run in list(work.execution.task_run_list):
        if run.state.current != State.RUNNING or not _resolved_here(work, run):
            continue
        task = work.tree.task(run.task_id)
        try:
            nexts = _nexts(work, task, run)
        except FlowableError as error:
            _fail(work, run, str(error))
            progressed = True
            continue
        for resolved in nexts:
            work.create_run(resolved.task, run.id, resolved.value, resolved.iteration)
            progressed = True
    return progressed


def _nexts(work: Work, task: TaskOptions, run: TaskRun) -> list[rs.Resolved]:
    runs = task_lifecycles.child_runs(work, task, run)
    if short_type(task) == "WaitFor":
        return task_lifecycles.waitfor_nexts(work, cast(WaitFor, task), run, runs)
    return nexts_of(work, task, run, branches_of(work, task, run), runs)


# -- pass 3: created task runs ----------------------------------------------------------------
def start_created(work: Work, to_dispatch: list[str]) -> bool:
    progressed = False
    for run in list(work.execution.task_run_list):
        # RESTARTED task runs (restart, replay) start again like new ones
        if run.state.current not in CREATED_STATES or run.task_id not in work.tree:
            continue
        if work.tree.is_in_working_directory(run.task_id) or _already_dispatched(run):
            continue
        if work.execution.state.current == State.KILLING:
            work.set_state(run, State.KILLED)
            progressed = True
            continue
        progressed = _start(work, run, to_dispatch) or progressed
    return progressed


def _already_dispatched(run: TaskRun) -> bool:
    return bool(run.attempts) and not run.attempts[-1].state.current.is_terminated


def _start(work: Work, run: TaskRun, to_dispatch: list[str]) -> bool:
    task = work.tree.task(run.task_id)
    if not _passes_run_if(work, task, run):
        return True
    kind = work.tree.kind(run.task_id)
    if kind == PluginKind.FLOWABLE:
        _start_flowable(work, task, work.run(run.id))
    elif kind == PluginKind.EXECUTION_UPDATE:
        _update_execution(work, task, work.run(run.id), to_dispatch)
    elif kind == PluginKind.EXECUTABLE:
        task_lifecycles.start_executable(work, cast(task_lifecycles.ExecutableTask, task), work.run(run.id))
    else:
        run = work.add_attempt(work.run(run.id))
        links = chains.successors(work, run)
        if not links:
            to_dispatch.append(run.id)
            return True
        # Consecutive runnables of a sequence: created now, run one after the other on workers.
        chained = [run.id]
        for resolved in links:
            link = work.create_run(resolved.task, run.parent_task_run_id, resolved.value, resolved.iteration)
            chained.append(work.add_attempt(link).id)
        work.emit(DispatchTaskRuns(tuple(chained), chain=True))
    return True


def _update_execution(work: Work, task: TaskOptions, run: TaskRun, to_dispatch: list[str]) -> None:
    """Labels, Exit, SetVariables...: an Exit that ends the execution stops what it started."""
    execution_updates.apply(work, task, run)
    state = work.execution.state.current
    if state == State.KILLING:
        kill_running(work)
    elif state.is_terminated and to_dispatch:
        to_dispatch[:] = [run_id for run_id in to_dispatch if not work.run(run_id).state.current.is_terminated]


def _passes_run_if(work: Work, task: TaskOptions, run: TaskRun) -> bool:
    """runIf is rendered just before the task starts: falsy -> SKIPPED, render error -> FAILED."""
    if task.run_if is None:
        return True
    try:
        truthy = is_truthy(work.render(task.run_if, run, task))
    except Exception as error:  # noqa: BLE001 - any render failure (undefined variable, bad filter) fails the task
        _fail(work, run, f"runIf could not be rendered: {error}")
        return False
    if not truthy:
        work.set_state(run, State.SKIPPED)
    return truthy


def _start_flowable(work: Work, task: TaskOptions, run: TaskRun) -> None:
    name = short_type(task)
    if name == "WorkingDirectory":
        work.add_attempt(run)
        work.emit(DispatchWorkingDirectory(run.id))
        return
    if name == "Template" or not _implemented(work, task):
        _fail(work, run, f"task type {task.type} is not implemented")
        return
    hook = START_HOOKS.get(name)
    try:
        outputs = hook(work, task, run) if hook else {}
    except Exception as error:  # noqa: BLE001 - a condition, value or values that fail to render fail the task
        _fail(work, run, str(error))
        return
    run = work.set_state(run, State.RUNNING, outputs)
    if name == "Pause":
        task_lifecycles.pause(work, cast(Pause, task), run)


def _implemented(work: Work, task: TaskOptions) -> bool:
    spec = work.registry.find(task.type)
    return spec is None or spec.implemented


def _fail(work: Work, run: TaskRun, message: str) -> None:
    work.emit(Log(run.id, "ERROR", message))
    work.set_state(run, State.FAILED)


def kill_running(work: Work) -> None:
    """KILLING: created and waiting task runs end KILLED now; workers are asked to stop the rest."""
    to_kill: list[str] = []
    children: list[str] = []
    for run in work.execution.task_run_list:
        state = run.state.current
        if state.is_terminated:
            continue
        kind = work.tree.kind(run.task_id) if run.task_id in work.tree else PluginKind.RUNNABLE
        if chains.is_pending_link(work, run):
            continue  # never started: it ends with its predecessor (killed, so its chain stops)
        if state in (State.PAUSED, State.RETRYING) or (state in CREATED_STATES and not _already_dispatched(run)):
            if state in (State.PAUSED, State.RETRYING):
                work.emit(CancelTimers(run.id))  # its retry / pause timer has nothing left to wake
            work.set_state(run, State.KILLED)
        elif kind == PluginKind.EXECUTABLE:
            children.extend(task_lifecycles.child_execution_ids(run))
            work.set_state(run, State.KILLED)
        elif kind == PluginKind.RUNNABLE or short_type(work.tree.task(run.task_id)) == "WorkingDirectory":
            to_kill.append(run.id)
    if to_kill or children:
        work.emit(KillTaskRuns(tuple(to_kill), tuple(children)))
