"""Builders of execution records for the persistence tests."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.model.execution import Attempt, Execution, Label, StateRecord, TaskRun
from engine.state import State

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def execution(namespace: str = "company.team", flow_id: str = "hello", *, runs: int = 0,
              state: State = State.CREATED, now: datetime = T0,
              labels: dict[str, str] | None = None, parent_id: str | None = None) -> Execution:
    base = Execution(namespace=namespace, flow_id=flow_id, flow_revision=1,
                     state=StateRecord.start(State.CREATED, now), parent_id=parent_id,
                     labels=tuple(Label(key=k, value=v) for k, v in (labels or {}).items()),
                     inputs={"name": "world"})
    if state != State.CREATED:
        base = base.with_state(state, now)
    # Built in one copy: with_task_run per run would be quadratic for 10,000 runs.
    built = tuple(task_run(base, f"t{i % 7}", value=str(i), now=now) for i in range(runs))
    return base.model_copy(update={"task_run_list": built})


def task_run(execution: Execution, task_id: str, *, value: str | None = None,
             now: datetime = T0, parent: TaskRun | None = None) -> TaskRun:
    return TaskRun(execution_id=execution.id, namespace=execution.namespace,
                   flow_id=execution.flow_id, task_id=task_id, value=value,
                   parent_task_run_id=parent.id if parent else None,
                   state=StateRecord.start(State.CREATED, now))


def finish(run: TaskRun, now: datetime, outputs: dict[str, object] | None = None) -> TaskRun:
    running = run.with_state(State.RUNNING, now)
    attempt = Attempt(state=StateRecord.start(State.RUNNING, now).with_state(State.SUCCESS, now))
    return running.with_state(State.SUCCESS, now).model_copy(
        update={"attempts": (attempt,), "outputs": outputs or {"value": run.value}})
