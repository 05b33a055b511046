"""L3: what one link of a Celery chain hands to the next: the outputs the executor may not have yet.

Link k+1 may start before the executor recorded link k's result. Each link therefore returns, as
the Celery chain's result, ``{"runs": {task_run_id: outputs}}`` for the links of its chain whose
end the database did not show yet (its own included); the next link receives it (a mutable
signature) and overlays it on the execution it loaded before building the rendering variables,
so ``{{ outputs.t1.value }}`` and ``{{ tasks.t1.state }}`` read as if the executor had caught up.
Entries the database already shows as ended are dropped, so the payload stays small when the
executor keeps up.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.model.execution import Execution, StateHistory, StateRecord
from engine.state import State


def carried_runs(carried: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    runs = (carried or {}).get("runs") if isinstance(carried, Mapping) else None
    return {str(k): dict(v or {}) for k, v in runs.items()} if isinstance(runs, Mapping) else {}


def overlay(execution: Execution, carried: Mapping[str, dict[str, Any]], now: datetime
            ) -> tuple[Execution, dict[str, dict[str, Any]]]:
    """The execution with the carried links shown SUCCESS with their outputs; and the carried
    entries the database does not know yet (the others are dropped)."""
    if not carried:
        return execution, {}
    unknown: dict[str, dict[str, Any]] = {}
    runs = []
    for run in execution.task_run_list:
        outputs = carried.get(run.id)
        if outputs is None or run.state.current.is_terminated:
            runs.append(run)
            continue
        unknown[run.id] = outputs
        state = StateRecord(current=State.SUCCESS,
                            histories=(*run.state.histories, StateHistory(state=State.SUCCESS, date=now)))
        runs.append(run.model_copy(update={"state": state, "outputs": {**run.outputs, **outputs}}))
    return execution.model_copy(update={"task_run_list": tuple(runs)}), unknown
