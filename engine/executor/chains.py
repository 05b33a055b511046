"""L1 pure core: chains of consecutive runnable task runs, dispatched as one Celery ``chain``.

When the executor starts a runnable task run P of a sequential task list, the runnable tasks that
follow P in that list would each be created by the executor only after the previous one ended
SUCCESS. For the ones that are *chain-safe* it creates them up front instead (CREATED, with their
CREATED attempt) and dispatches ``DispatchTaskRuns((P, S1, S2...), chain=True)``: on the worker,
S1 starts right after P returned, without a round trip through the executor.

A link runs only if the one before it ended its attempt SUCCESS (the worker stops the chain
otherwise). Links the chain never reached must not stay in the execution (Kestra's task run
counts): when the executor records the end of an attempt that is not SUCCESS, or any end while the
execution is KILLING, it removes the *pending* links after it (CREATED, attempt never started).
Settling then decides again, as if they had never existed: the errors branch starts, a retry is
scheduled, or (allowFailure, the errors/finally branches that carry on after a failure) the next
task run is created afresh.

A successor is chain-safe when nothing of the executor is needed between it and its predecessor:
a runnable task (not a flowable, a Subflow or execution.Labels, so never a WorkingDirectory), of a
known type, without ``runIf`` (rendered by the executor), in the same worker group, that has no
task run yet. The sequences: the flow's ``tasks``/``errors``/``finally``; every branch of
Sequential, AllowFailure, If and Switch (their lists are fixed once they started); the
``errors``/``finally`` of Parallel and Dag (always sequential). Not ForEach/Each*/WaitFor (values
and iterations are the executor's), not inside a WorkingDirectory (its worker runs the subtree),
not ``afterExecution``. Only while the execution is RUNNING.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.executor import flow_level
from engine.executor import resolve as rs
from engine.executor.flowables import branches_of, short_type
from engine.executor.step_state import Work
from engine.model.execution import StateRecord, TaskRun
from engine.model.task import TaskOptions
from engine.plugins.base import PluginKind
from engine.state import State

# At most this many task runs in one chain: a Celery chain message carries every later link, so
# the bytes sent grow with the square of its length. The last link's result brings the executor
# back, which starts the next chain.
MAX_CHAIN = 100

_ANY_BRANCH = frozenset({"Sequential", "AllowFailure", "If", "Switch"})
_SEQUENTIAL_BRANCHES_ONLY = frozenset({"Parallel", "Dag"})


def successors(work: Work, run: TaskRun) -> list[rs.Resolved]:
    """The chain-safe tasks that follow ``run`` (being dispatched now) in its sequence."""
    if not work.chains or work.execution.state.current != State.RUNNING:
        return []
    found = _sequence(work, run)
    if found is None:
        return []
    sequence, index, siblings = found
    group = group_of(work.tree.task(run.task_id))
    chained: list[rs.Resolved] = []
    for resolved in sequence[index + 1:]:
        if len(chained) + 1 >= MAX_CHAIN or not _chainable(work, resolved.task, group):
            break
        if rs.run_for(resolved, siblings) is not None:
            break
        chained.append(resolved)
    return chained


def pending_after(work: Work, run: TaskRun) -> list[TaskRun]:
    """The links after ``run`` that were dispatched in its chain and never started."""
    found = _sequence(work, run)
    if found is None:
        return []
    sequence, index, siblings = found
    pending: list[TaskRun] = []
    for resolved in sequence[index + 1:]:
        later = rs.run_for(resolved, siblings)
        if later is None or not is_unstarted(later):
            break
        pending.append(later)
    return pending


def is_unstarted(run: TaskRun) -> bool:
    """Dispatched (a CREATED attempt) but no worker reported it RUNNING yet."""
    return run.state.current == State.CREATED and bool(run.attempts) and \
        run.attempts[-1].state.current == State.CREATED


def is_pending_link(work: Work, run: TaskRun) -> bool:
    """A chain link waiting for its predecessor: it must not be killed or re-dispatched alone.

    Its predecessor in its sequence has a task run that has not ended (a non-chained task run is
    only created once its predecessor ended).
    """
    if not is_unstarted(run):
        return False
    found = _sequence(work, run)
    if found is None:
        return False
    sequence, index, siblings = found
    if index == 0:
        return False
    before = rs.run_for(sequence[index - 1], siblings)
    return before is not None and not before.state.current.is_terminated


def drop_unreached(work: Work, run: TaskRun) -> None:
    """Removes the links after ``run`` that its chain will never reach."""
    for later in pending_after(work, run):
        work.remove(later.id)


def keep_order(work: Work, run: TaskRun) -> None:
    """Keeps the dates of ``run``'s sequence in order around ``run``, which just changed.

    A link is created (and its result may be applied) before the link before it ended, and the
    worker dates its start while the executor may apply its predecessor's end later: no state of
    a task run may be dated before the end of the one before it in its sequence (Kestra creates it
    only then). From ``run``'s predecessor on, each task run's dates are raised to the end of the
    one before it, while that one has ended.
    """
    if not work.chains:
        return
    found = _sequence(work, run)
    if found is None:
        return
    sequence, index, siblings = found
    previous = rs.run_for(sequence[index - 1], siblings) if index > 0 else None
    for resolved in sequence[index:]:
        current = rs.run_for(resolved, siblings)
        if current is None:
            return
        if previous is not None and previous.state.current.is_terminated:
            floor = previous.state.histories[-1].date
            if current.state.histories[0].date < floor:
                current = work.save(_not_before(current, floor))
        elif current.id != run.id:
            return  # the runs after an unfinished one are dated once it ends
        previous = current


def _not_before(run: TaskRun, floor: datetime) -> TaskRun:
    attempts = tuple(attempt.model_copy(update={"state": _raised(attempt.state, floor)}) for attempt in run.attempts)
    return run.model_copy(update={"state": _raised(run.state, floor), "attempts": attempts})


def _raised(record: StateRecord, floor: datetime) -> StateRecord:
    histories = tuple(h if h.date >= floor else h.model_copy(update={"date": floor}) for h in record.histories)
    return record.model_copy(update={"histories": histories})


# -- helpers ----------------------------------------------------------------------------------
def _sequence(work: Work, run: TaskRun) -> tuple[Sequence[rs.Resolved], int, list[TaskRun]] | None:
    """(the sequential task list of ``run``, its index there, the task runs of that owner)."""
    if run.task_id not in work.tree or run.value is not None or run.iteration is not None:
        return None
    owner_run: TaskRun | None = None
    if run.parent_task_run_id is None:
        if work.tree.node(run.task_id).parent_id is not None:
            return None
        branches = flow_level.root_branches(work)
        lists: tuple[Sequence[rs.Resolved], ...] = (branches.tasks, branches.errors, branches.finally_)
    else:
        owner_run = work.find_run(run.parent_task_run_id)
        if owner_run is None or owner_run.task_id not in work.tree:
            return None
        owner = work.tree.task(owner_run.task_id)
        name = short_type(owner)
        if work.tree.is_in_working_directory(owner_run.task_id):
            return None
        if name in _ANY_BRANCH:
            branches = branches_of(work, owner, owner_run)
            lists = (branches.tasks, branches.errors, branches.finally_)
        elif name in _SEQUENTIAL_BRANCHES_ONLY:
            lists = (rs.enabled(getattr(owner, "errors", None)), rs.enabled(getattr(owner, "finally_", None)))
        else:
            return None
    for sequence in lists:
        for index, resolved in enumerate(sequence):
            if resolved.task_id == run.task_id and resolved.value is None and resolved.iteration is None:
                # the siblings only once found: a wide Parallel's children are in none of its lists
                siblings = flow_level.root_runs(work) if owner_run is None else work.children(owner_run.id)
                return sequence, index, siblings
    return None


def _chainable(work: Work, task: TaskOptions, group: str | None) -> bool:
    node = work.tree.node(task.id)
    return (node.spec is not None and node.kind == PluginKind.RUNNABLE and task.run_if is None
            and group_of(task) == group)


def group_of(task: TaskOptions) -> str | None:
    """The worker group (queue) a task runs on; None: the default."""
    group = task.worker_group
    return None if group is None else group.key
