"""L2: the executions an executor process stepped last, by the version of their row.

Without it, a step of a 10,000-run execution would read the heads of its 10,000 task run rows
only to find what changed since the last step, which this process itself wrote. Every write of an execution
or its task runs' content (``LockedExecution.save``, a soft delete) raises ``executions.version``
under the row lock, so an execution this process saved at version v is still exact while its row
says v: only the lease columns that workers and beat update directly may have moved, and a step
re-reads those for the task runs its events concern (docs/persistence.md, "Executor steps").
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from engine.model.execution import Execution, TaskRun


class StepCache:
    """A bounded map execution id -> (row version, execution as saved), least recently used out."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[int, Execution, dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, execution_id: str, version: int) -> tuple[Execution, dict[str, int]] | None:
        """The execution saved at ``version`` and the positions of its task runs, or None."""
        with self._lock:
            entry = self._entries.get(execution_id)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(execution_id)
            return entry[1], entry[2]

    def put(self, execution: Execution, version: int) -> None:
        positions = {run.id: index for index, run in enumerate(execution.task_run_list)}
        with self._lock:
            self._entries[execution.id] = (version, execution, positions)
            self._entries.move_to_end(execution.id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def with_runs(execution: Execution, positions: dict[str, int], runs: list[TaskRun]) -> Execution:
    """``execution`` with each of ``runs`` in place of the run of the same id."""
    if not runs:
        return execution
    task_runs = list(execution.task_run_list)
    for run in runs:
        task_runs[positions[run.id]] = run
    return execution.model_copy(update={"task_run_list": tuple(task_runs)})
