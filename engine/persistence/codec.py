"""L2 adapter: execution and task-run records <-> table rows.

The full Kestra JSON of the record goes into ``body`` (minus the task runs, which have
their own rows); the other columns copy the fields that queries filter or sort on.
Reading is ``model_validate`` of that JSON, so the rows round-trip the model exactly.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.model.execution import Execution, TaskRun
from engine.persistence.records import utc


def execution_row(execution: Execution) -> dict[str, Any]:
    body = execution.to_json(with_task_runs=False)
    return {
        "id": execution.id,
        "namespace": execution.namespace,
        "flow_id": execution.flow_id,
        "flow_revision": execution.flow_revision,
        "state": execution.state.current.value,
        "start_date": execution.state.start_date,
        "end_date": execution.state.end_date,
        "labels": [label.to_json() for label in execution.labels],
        "body": body,
        "parent_id": execution.parent_id,
        "original_id": execution.original_id,
        "trigger": execution.trigger.to_json() if execution.trigger else None,
        "schedule_date": execution.schedule_date,
        "schema_version": execution.schema_version,
        "deleted": execution.deleted,
    }


def execution_from_row(row: Mapping[Any, Any], task_runs: list[TaskRun]) -> Execution:
    return Execution.model_validate({**row["body"], "taskRunList": task_runs})


def task_run_row(run: TaskRun, position: int) -> dict[str, Any]:
    body = run.to_json()
    attempts = body.pop("attempts", [])
    outputs = body.pop("outputs", {})
    return {
        "id": run.id,
        "execution_id": run.execution_id,
        "position": position,
        "task_id": run.task_id,
        "parent_task_run_id": run.parent_task_run_id,
        "value": run.value,
        "iteration": run.iteration,
        "state": run.state.current.value,
        "attempts": attempts,
        "outputs": outputs,
        "body": body,
        **lease_columns(run),
    }


def lease_columns(run: TaskRun) -> dict[str, Any]:
    """The lease columns of a task run row: those of its last attempt while it is not ended."""
    last = run.attempts[-1] if run.attempts else None
    live = last is not None and not last.state.current.is_terminated and not run.state.current.is_terminated
    return {"attempt": len(run.attempts), "worker_id": last.worker_id if last is not None else None,
            "lease_until": last.lease_until if live and last is not None else None}


def task_run_from_row(row: Mapping[Any, Any]) -> TaskRun:
    return with_lease(task_run_content(row), row)


def task_run_content(row: Mapping[Any, Any]) -> TaskRun:
    """The run as its executor-written columns say, before ``with_lease`` adds the lease."""
    return TaskRun.model_validate({**row["body"], "attempts": row["attempts"], "outputs": row["outputs"]})


def with_raw_lease(run: TaskRun, lease: tuple[Any, Any, Any]) -> TaskRun:
    """``with_lease`` of ``(attempt, worker_id, lease_until)`` as selected without UtcDateTime."""
    attempt, worker_id, lease_until = lease
    return with_lease(run, {"attempt": attempt, "worker_id": worker_id, "lease_until": utc(lease_until)})


def with_lease(run: TaskRun, row: Mapping[Any, Any]) -> TaskRun:
    """The worker claims and renews the lease with direct column updates (docs/reliability.md);
    the current attempt read back carries them, so a later save keeps them.

    The columns win over the attempt's own ``worker_id``, a NULL too: a batch gives back a claim
    it will not run (``worker_id`` NULL again), and a run that still said "claimed" would never
    be sent again once the message carrying it is lost."""
    if not run.attempts or row.get("attempt") != len(run.attempts):
        return run
    last = run.attempts[-1]
    if last.state.current.is_terminated:
        return run
    worker_id, lease_until = row.get("worker_id"), row.get("lease_until")
    if worker_id == last.worker_id and lease_until == last.lease_until:
        return run
    last = last.model_copy(update={"worker_id": worker_id, "lease_until": lease_until})
    return run.model_copy(update={"attempts": (*run.attempts[:-1], last)})
