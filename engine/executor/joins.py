"""L1 pure core: joins, the task after a fan-out started by the worker that ends the fan-out.

A Parallel's children are dispatched together; without a join, the task J that follows the
Parallel waits for a round trip through the executor: the last child's result, a step that ends
the Parallel and creates J, a message, a claim. Raw Celery's chord starts its callback from the
worker that ends the header. A join does the same from the database (docs/celery.md, "Joins"):

- When settle dispatches every child of a Parallel at once (runnables only, no ``concurrent``
  limit holding some back, no ``errors``/``finally`` on the Parallel) and J is chain-safe after the
  Parallel in its sequence (chains.py), J's task run is created up front, with its CREATED attempt,
  like a chain link, and the children go out as ``DispatchTaskRuns(children, join=J)``. The
  services save a counter with the step; the worker that writes the last child's success claims J
  in the same transaction and runs it.
- The executor still decides. When the Parallel ends SUCCESS and J has not started, it sends J
  ``unless_claimed``: a worker took it, or nobody will (a child was retried or re-dispatched
  without the join). Any other end, or a kill, removes J like a chain link its chain never reached
  (chains.drop_unreached), and settling decides afresh (allowFailure, the errors branch...).
- While the Parallel runs, J is a pending link (chains.is_pending_link): never killed or
  re-dispatched on its own.
"""
from __future__ import annotations

from engine.executor import chains
from engine.executor.commands import DispatchTaskRuns
from engine.executor.flowables import branches_of, short_type
from engine.executor.step_state import Work
from engine.model.execution import TaskRun
from engine.state import State


def plan(work: Work, to_dispatch: list[str]) -> list[str]:
    """Emits the dispatch of each fan-out that gets a join; returns the rest of ``to_dispatch``."""
    if not work.chains or work.execution.state.current != State.RUNNING:
        return to_dispatch
    by_owner: dict[str, list[str]] = {}
    for run_id in to_dispatch:
        parent = work.run(run_id).parent_task_run_id
        if parent is not None:
            by_owner.setdefault(parent, []).append(run_id)
    joined: set[str] = set()
    for owner_id, children in by_owner.items():
        join = _join_after(work, work.run(owner_id), children)
        if join is not None:
            work.emit(DispatchTaskRuns(tuple(children), join=join.id))
            joined.update(children)
    return [run_id for run_id in to_dispatch if run_id not in joined]


def after_end(work: Work, owner: TaskRun, state: State) -> None:
    """The flowable ``owner`` just ended ``state``: its join, if any, is sent or dropped."""
    pending = chains.pending_after(work, owner)
    if not pending:
        return
    if state == State.SUCCESS and work.execution.state.current == State.RUNNING:
        work.emit(DispatchTaskRuns(tuple(run.id for run in pending), chain=len(pending) > 1, unless_claimed=True))
    else:
        chains.drop_unreached(work, owner)


def _join_after(work: Work, owner: TaskRun, children: list[str]) -> TaskRun | None:
    """Creates the join of ``owner``'s fan-out ``children`` if it can have one."""
    task = work.tree.task(owner.task_id)
    if short_type(task) != "Parallel" or owner.state.current != State.RUNNING:
        return None
    branches = branches_of(work, task, owner)
    if branches.errors or branches.finally_ or len(branches.tasks) != len(children):
        return None
    if {run.id for run in work.children(owner.id)} != set(children):
        return None  # some started in an earlier step, or are flowables: the executor joins
    groups = {chains.group_of(work.tree.task(work.run(run_id).task_id)) for run_id in children}
    following = chains.successors(work, owner)[:1]
    if len(groups) != 1 or not following or chains.group_of(following[0].task) not in groups:
        return None  # the join runs on the worker of the children's queue
    resolved = following[0]
    created = work.create_run(resolved.task, owner.parent_task_run_id, resolved.value, resolved.iteration)
    return work.add_attempt(created)
