"""What one link of a Celery chain hands to the next: the outputs the executor may not have yet.

Link k+1 may start before the executor recorded link k's result. Each link therefore returns, as
the Celery chain's result, ``{"runs": {task_run_id: outputs}}`` for the links of its chain whose
end the database did not show yet (its own included); the next link receives it (a mutable
signature) and overlays it on the execution it loaded before building the rendering variables,
so ``{{ outputs.t1.value }}`` and ``{{ tasks.t1.state }}`` read as if the executor had caught up.
Entries the database already shows as ended are dropped, so the payload stays small when the
executor keeps up. A fan-out's join overlays its children's outputs the same way, read from the
result outbox (``worker.batches``, "Joins").
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.model.execution import Execution, StateHistory, StateRecord
from engine.state import State

#: Outputs by task run id, of links whose end the executor may not have recorded yet.
CarriedRuns = dict[str, dict[str, Any]]


def carried_runs(carried: Mapping[str, Any] | None) -> CarriedRuns:
    """The outputs a link received from the previous one (``{"runs": ...}``, JSON), read defensively."""
    runs = (carried or {}).get("runs") if isinstance(carried, Mapping) else None
    return {str(k): dict(v or {}) for k, v in runs.items()} if isinstance(runs, Mapping) else {}


def overlay(execution: Execution, carried: Mapping[str, dict[str, Any]], now: datetime
            ) -> tuple[Execution, CarriedRuns]:
    """The execution with the carried links shown SUCCESS with their outputs; and the carried
    entries the database does not know yet (the others are dropped)."""
    if not carried:
        return execution, {}
    unknown: CarriedRuns = {}
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
