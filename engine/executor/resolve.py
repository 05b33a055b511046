"""L1 pure core: which child tasks run next, and when a group of tasks has ended (Kestra's ``FlowableUtils``).

Every flowable task (and the flow itself) owns three branches: ``tasks``, ``errors`` and
``finally``. :func:`current_branch` picks the one that is live (Kestra's
``Execution.findTaskDependingFlowState``); the ``*_nexts`` functions say which resolved tasks
need a new task run; :func:`resolve_state` says whether the owner has ended, and in which state
(Kestra's ``guessFinalState``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engine.model.execution import TaskRun
from engine.model.flow import Flow
from engine.model.task import TaskOptions
from engine.state import State


@dataclass(frozen=True)
class Resolved:
    """A child task to run under a parent task run, for one iteration value (Kestra's ``ResolvedTask``)."""

    task: TaskOptions
    value: str | None = None
    iteration: int | None = None

    @property
    def task_id(self) -> str:
        return str(self.task.id)


@dataclass(frozen=True)
class Branches:
    tasks: tuple[Resolved, ...]
    errors: tuple[Resolved, ...] = ()
    finally_: tuple[Resolved, ...] = ()


def enabled(tasks: Iterable[TaskOptions] | None, value: str | None = None,
            iteration: int | None = None) -> tuple[Resolved, ...]:
    """Disabled tasks are removed from resolution: they get no task run at all."""
    return tuple(Resolved(t, value, iteration) for t in tasks or () if not getattr(t, "disabled", False))


def owned_branches(tasks: Iterable[TaskOptions], owner: TaskOptions | Flow, value: str | None = None) -> Branches:
    """``tasks`` with the ``errors`` and ``finally`` of their owner (a flowable task or the flow)."""
    return Branches(enabled(tasks, value), enabled(getattr(owner, "errors", None)),
                    enabled(getattr(owner, "finally_", None)))


RunIndex = dict[tuple[str, str], list[TaskRun]]
# Whether a candidate may start now (a Dag task whose dependencies ended).
Ready = Callable[[Resolved], bool]
_ANY = "\0any"  # the key part meaning "whatever the iteration value"


def index_runs(runs: Sequence[TaskRun]) -> RunIndex:
    """``runs`` grouped by (task id, value) and by task id alone, in order: looking up many
    tasks, ForEach iterations included, costs one pass instead of one scan each."""
    index: RunIndex = {}
    for run in runs:
        index.setdefault((run.task_id, _ANY), []).append(run)
        if run.value is not None:
            index.setdefault((run.task_id, run.value), []).append(run)
    return index


def run_for(resolved: Resolved, runs: Sequence[TaskRun], index: RunIndex | None = None) -> TaskRun | None:
    """The latest task run of ``resolved`` among ``runs`` (WaitFor creates several per task)."""
    if index is not None:
        found = index.get((resolved.task_id, _ANY if resolved.value is None else resolved.value))
        return found[-1] if found else None
    task_id = resolved.task_id
    for run in reversed(runs):
        if run.task_id == task_id and (resolved.value is None or run.value == resolved.value):
            return run
    return None


def runs_for(resolved: Sequence[Resolved], runs: Sequence[TaskRun], index: RunIndex | None = None) -> list[TaskRun]:
    """The latest run of each of ``resolved`` that has one; pass ``index`` (of ``runs``) when
    looking up many groups in the same runs, else each call indexes them again."""
    index = index_runs(runs) if index is None else index
    found = (run_for(r, runs, index) for r in resolved)
    return [run for run in found if run is not None]


def has_failed(resolved: Sequence[Resolved], runs: Sequence[TaskRun], index: RunIndex | None = None) -> bool:
    return any(run.state.current == State.FAILED for run in runs_for(resolved, runs, index))


def is_terminated(resolved: Sequence[Resolved], runs: Sequence[TaskRun], index: RunIndex | None = None) -> bool:
    found = runs_for(resolved, runs, index)
    return len(found) == len(resolved) and all(run.state.current.is_terminated for run in found)


def current_branch(branches: Branches, runs: Sequence[TaskRun]) -> tuple[str, tuple[Resolved, ...]]:
    """The live branch: ``finally`` once started or once the others ended, ``errors`` after a
    failure, else ``tasks``."""
    tasks, errors, finally_ = branches.tasks, branches.errors, branches.finally_
    index = index_runs(runs)
    if finally_ and runs_for(finally_, runs, index):
        return "finally", finally_
    if runs_for(errors, runs, index) or has_failed(tasks, runs, index):
        if not errors or (finally_ and is_terminated(errors, runs, index)):
            return "finally", finally_
        return "errors", errors
    if finally_ and is_terminated(tasks, runs, index):
        return "finally", finally_
    return "tasks", tasks


def sequential_nexts(current: Sequence[Resolved], runs: Sequence[TaskRun],
                     index: RunIndex | None = None) -> list[Resolved]:
    """The first task without a task run, once every earlier one has ended."""
    index = index_runs(runs) if index is None else index
    for resolved in current:
        run = run_for(resolved, runs, index)
        if run is None:
            return [resolved]
        if not run.state.current.is_terminated:
            return []
    return []


def parallel_nexts(current: Sequence[Resolved], runs: Sequence[TaskRun], concurrent: int,
                   ready: Ready | None = None) -> list[Resolved]:
    """Every task without a task run, at most ``concurrent`` unfinished at once (0 = no limit).

    ``ready(resolved) -> bool`` filters the candidates (Dag dependencies).
    """
    index = index_runs(runs)
    found = runs_for(current, runs, index)
    active = sum(1 for run in found if not run.state.current.is_terminated)
    waiting = [r for r in current if run_for(r, runs, index) is None and (ready is None or ready(r))]
    if concurrent > 0:
        waiting = waiting[:max(0, concurrent - active)]
    return waiting


def grouped_nexts(current: Sequence[Resolved], runs: Sequence[TaskRun], limit: int) -> list[Resolved]:
    """ForEach: the tasks of each value run in sequence, at most ``limit`` values at once (0 = all)."""
    nexts: list[Resolved] = []
    active = 0
    fresh: list[Resolved] = []
    index = index_runs(runs)  # once: a ForEach of n values looks up n groups in the same runs
    for group in _groups(current):
        # one lookup per task: a 10,000-value ForEach runs this on every event
        latest = [run_for(resolved, runs, index) for resolved in group]
        if all(run is None for run in latest):
            fresh.append(group[0])
            continue
        if all(run is not None and run.state.current.is_terminated for run in latest):
            continue
        active += 1
        for resolved, run in zip(group, latest, strict=True):
            if run is None:
                nexts.append(resolved)
                break
            if not run.state.current.is_terminated:
                break
    slots = len(fresh) if limit == 0 else max(0, limit - active)
    nexts.extend(fresh[:slots])
    return nexts


def _groups(current: Sequence[Resolved]) -> list[list[Resolved]]:
    groups: dict[str | None, list[Resolved]] = {}
    for resolved in current:
        groups.setdefault(resolved.value, []).append(resolved)
    return list(groups.values())


def dag_ready(dependencies: dict[str, list[str]], runs: Sequence[TaskRun]) -> Ready:
    """A Dag candidate is ready once every task it depends on has a terminated task run."""
    ended = {run.task_id for run in runs if run.state.current.is_terminated}

    def ready(resolved: Resolved) -> bool:
        return all(dep in ended for dep in dependencies.get(resolved.task_id, ()))
    return ready


def guess_final_state(resolved: Sequence[Resolved], runs: Sequence[TaskRun], *,
                      allow_failure: bool = False, allow_warning: bool = False) -> State:
    """KILLED > FAILED > WARNING > PAUSED > SUCCESS over the task runs of ``resolved``.

    allowFailure turns FAILED into WARNING (SUCCESS with allowWarning); allowWarning turns
    WARNING into SUCCESS (Kestra's ``Execution.guessFinalState``).
    """
    states = {run.state.current for run in runs_for(resolved, runs)}
    state: State
    for candidate in (State.KILLED, State.FAILED, State.WARNING, State.PAUSED):
        if candidate in states:
            state = candidate
            break
    else:
        state = State.SUCCESS
    if state == State.FAILED and allow_failure:
        return State.SUCCESS if allow_warning else State.WARNING
    if state == State.WARNING and allow_warning:
        return State.SUCCESS
    return state


def resolve_state(branches: Branches, runs: Sequence[TaskRun], *, allow_failure: bool = False,
                  allow_warning: bool = False) -> State | None:
    """The final state of the owner of ``branches``, or None while it is still going.

    Unlike Kestra, an owner never ends while one of its children is still unfinished (a failed
    Parallel waits for its running siblings), so no task run is left running under an ended parent.
    """
    if any(not run.state.current.is_terminated for run in runs):
        return None
    _, current = current_branch(branches, runs)
    if current and not is_terminated(current, runs):
        return None
    return guess_final_state(branches.tasks, runs, allow_failure=allow_failure, allow_warning=allow_warning)
