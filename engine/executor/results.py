"""L1 pure core: recording the end of an attempt: retry, allowFailure, allowWarning, warningOnRetry.

Used for worker results (runnable tasks, WorkingDirectory) and for child execution ends
(Subflow). A FAILED attempt with a retry left sends the task run FAILED -> RETRYING and asks for
a timer; with CREATE_NEW_EXECUTION the task run, its parents and the execution become RETRIED.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.executor.commands import ExecutionEnded, Log, RetryExecution, ScheduleTimer
from engine.executor.events import TimerKind
from engine.executor.retry import next_retry_date, retry_policy, should_retry
from engine.executor.step_state import Work
from engine.model.execution import Attempt, StateRecord, TaskRun
from engine.model.task import RetryBehavior, RetryPolicy, TaskOptions
from engine.state import State


def finish_attempt(work: Work, run: TaskRun, state: State, outputs: dict[str, Any],
                   at: datetime | None = None) -> None:
    """The current attempt of ``run`` ended in ``state`` at ``at`` (the worker's date; now by
    default): decide the task run's own state."""
    end = _bounded(work, run, at)
    run = _close_attempt(work, run, state, end)
    if outputs:
        run = work.save(run.model_copy(update={"outputs": {**run.outputs, **outputs}}))
    if run.task_id not in work.tree:
        work.set_state(run, state, at=end)
        return
    task = work.tree.task(run.task_id)
    if state == State.FAILED and _retried(work, run):
        return
    work.set_state(run, _final_state(task, run, state, retry_policy(work.tree, run.task_id)), at=end)


def _bounded(work: Work, run: TaskRun, at: datetime | None) -> datetime:
    """``at`` within what the executor knows: not before the run's (or its attempt's) last state,
    not after now, whatever the worker's clock says."""
    if at is None:
        return work.now
    last = [run.state.histories[-1].date]
    if run.attempts:
        last.append(run.attempts[-1].state.histories[-1].date)
    return min(max(at, *last), work.now)


def _final_state(task: TaskOptions, run: TaskRun, state: State, policy: RetryPolicy | None) -> State:
    if state == State.FAILED and task.allow_failure:
        return State.SUCCESS if task.allow_warning else State.WARNING
    if state == State.WARNING and task.allow_warning:
        return State.SUCCESS
    if state == State.SUCCESS and len(run.attempts) > 1 and policy is not None and policy.warning_on_retry:
        return State.WARNING
    return state


def _close_attempt(work: Work, run: TaskRun, state: State, end: datetime | None = None) -> TaskRun:
    end = work.now if end is None else end
    if not run.attempts:
        run = work.add_attempt(run, State.RUNNING)
    last = run.attempts[-1]
    if last.state.current == State.CREATED and state.is_terminated:
        last = last.model_copy(update={"state": last.state.with_state(State.RUNNING, end)})
    closed = last.model_copy(update={"state": last.state.with_state(state, end, f"attempt of {run.describe()}")})
    return work.save(run.model_copy(update={"attempts": (*run.attempts[:-1], closed)}))


def _retried(work: Work, run: TaskRun) -> bool:
    policy = retry_policy(work.tree, run.task_id)
    if policy is None:
        return False
    if policy.behavior == RetryBehavior.CREATE_NEW_EXECUTION:
        return _retry_new_execution(work, run, policy)
    attempts = len(run.attempts)
    first_start = run.attempts[0].state.start_date if run.attempts else None
    at = next_retry_date(policy, attempts, work.now, run.id)
    if not should_retry(policy, attempts, first_start, at):
        return False
    run = work.set_state(run, State.FAILED)
    work.set_state(run, State.RETRYING)
    work.emit(ScheduleTimer(at, TimerKind.RETRY, run.id, {"attempt": attempts + 1}))
    return True


def _retry_new_execution(work: Work, run: TaskRun, policy: RetryPolicy) -> bool:
    attempts = work.execution.metadata.attempt_number
    start = work.execution.metadata.original_created_date or work.execution.state.start_date
    if not should_retry(policy, attempts, start, work.now):
        return False
    run = work.set_state(run, State.FAILED)
    work.set_state(run, State.RETRIED)
    parent_id = run.parent_task_run_id
    while parent_id is not None:
        parent = work.run(parent_id)
        if not parent.state.current.is_terminated:
            work.set_state(parent, State.RETRIED)
        parent_id = parent.parent_task_run_id
    work.set_execution_state(State.RETRIED)
    work.emit(ExecutionEnded(State.RETRIED))
    work.emit(RetryExecution(work.execution.id))
    return True


def start_retry(work: Work, run: TaskRun, attempt: int) -> None:
    """The retry timer fired: RETRYING -> CREATED; the settling loop dispatches the new attempt."""
    if run.state.current != State.RETRYING or attempt != len(run.attempts) + 1:
        return
    work.set_state(run, State.CREATED)


def record_running(work: Work, run: TaskRun, worker_id: str | None, lease_seconds: float | None = None,
                   at: datetime | None = None) -> None:
    """The attempt runs on ``worker_id`` since ``at`` (now by default; never before the run was
    created nor after now, whatever the worker's clock says)."""
    last = run.attempts[-1] if run.attempts else Attempt(state=_created(work))
    since = work.now if at is None else min(max(at, run.state.histories[-1].date,
                                                 last.state.histories[-1].date), work.now)
    update: dict[str, Any] = {"state": last.state.with_state(State.RUNNING, since),
                              "worker_id": worker_id or last.worker_id}
    if lease_seconds:
        # The first lease, saved with the RUNNING state; the worker's heartbeats renew it directly.
        update["lease_until"] = work.now + timedelta(seconds=lease_seconds)
    last = last.model_copy(update=update)
    attempts = (*run.attempts[:-1], last) if run.attempts else (last,)
    run = work.save(run.model_copy(update={"attempts": attempts}))
    work.save(run.with_state(State.RUNNING, since))


def _created(work: Work) -> StateRecord:
    return StateRecord.start(State.CREATED, work.now)


def resubmit(work: Work, run: TaskRun) -> None:
    """The worker of the current attempt is gone (its lease expired): the attempt ends KILLED and
    the task run goes back to CREATED, so the settling loop dispatches attempt N+1. The task run
    stays one task run; its attempts grow (docs/reliability.md)."""
    number = len(run.attempts)
    worker = run.attempts[-1].worker_id if run.attempts else None
    run = _close_attempt(work, run, State.KILLED)
    work.set_state(run, State.CREATED)
    work.emit(Log(run.id, "WARN", f"attempt {number} of {run.describe()} was lost (worker {worker or '?'} "
                                  f"stopped renewing its lease); resubmitted as attempt {number + 1}"))
