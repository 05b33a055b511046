"""L1 pure core: the commands the executor's decision function emits.

Commands are values; the services layer carries them out after the transaction that saved the
new execution commits (dispatch to Celery, write a timer row, create a child execution...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.executor.events import TimerKind
from engine.state import State


@dataclass(frozen=True)
class DispatchTaskRuns:
    """Send these task runs (their last attempt) to workers.

    ``chain`` True: run them in order on a worker, each only after the previous one succeeded.
    False: a group, all at once.
    ``join``: the task run created to follow this fan-out (``engine.executor.joins``): the worker
    that writes the last of the fan-out's successes runs it.
    ``unless_claimed``: send only the attempts no worker claimed yet (a join the executor starts
    itself, which the worker ending the fan-out may have taken).
    """

    task_run_ids: tuple[str, ...]
    chain: bool = False
    join: str | None = None
    unless_claimed: bool = False


@dataclass(frozen=True)
class DispatchWorkingDirectory:
    """Send a WorkingDirectory task run to ONE worker, which runs its whole subtree in one directory
    and reports each child task run it creates with ``TaskRunResult``."""

    task_run_id: str


@dataclass(frozen=True)
class ScheduleTimer:
    """Write a timer row; at ``at`` the services layer calls advance with ``TimerFired``."""

    at: datetime
    kind: TimerKind
    task_run_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelTimers:
    """Delete the pending timers of this task run (a resumed Pause, a killed execution)."""

    task_run_id: str


@dataclass(frozen=True)
class StartSubflow:
    """Create a child execution; reply with ``SubflowStarted``, then ``SubflowEnded`` if ``wait``."""

    task_run_id: str
    namespace: str
    flow_id: str
    revision: int | None
    inputs: dict[str, Any]
    labels: tuple[tuple[str, str], ...]
    wait: bool
    transmit_failed: bool
    schedule_date: str | None = None
    iteration: int | None = None
    items: str | None = None


@dataclass(frozen=True)
class SplitItems:
    """Split a ForEachItem's items file into batch files and the ``splits`` file listing them
    (its ``_split`` task run); with ``listed``, ``items`` is such a ``splits`` file and only its
    batches are read (the ``_items`` task run). Reply with ``ItemsSplit``."""

    task_run_id: str
    items: str
    rows: int | None
    bytes: str | None
    partitions: int | None
    separator: str
    listed: bool = False


@dataclass(frozen=True)
class MergeItemsOutputs:
    """Merge the flow outputs of the child executions a ForEachItem's ``_items`` task run started
    (``items_task_run_id``; the services layer knows them by their trigger) into one file, for its
    ``_merge`` task run ``task_run_id``; reply with ``ItemsMerged``."""

    task_run_id: str
    items_task_run_id: str | None = None  # None: the children of task_run_id itself


@dataclass(frozen=True)
class KillTaskRuns:
    """Ask workers to stop these running task runs (and kill child executions they started)."""

    task_run_ids: tuple[str, ...]
    child_execution_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryExecution:
    """A task failed with retry behaviour CREATE_NEW_EXECUTION: replay the execution (a new one)."""

    execution_id: str


@dataclass(frozen=True)
class ExecutionEnded:
    """The execution reached ``state``; afterExecution tasks may still run after this."""

    state: State


@dataclass(frozen=True)
class Log:
    """A log line the executor wants stored for a task run (why a flowable failed, ...)."""

    task_run_id: str | None
    level: str
    message: str


@dataclass(frozen=True)
class ExecutionPaused:
    pass


@dataclass(frozen=True)
class ResumeExecution:
    """The execution left PAUSED (delay elapsed or resumed)."""


Command = (DispatchTaskRuns | DispatchWorkingDirectory | ScheduleTimer | CancelTimers | StartSubflow
           | SplitItems | MergeItemsOutputs | KillTaskRuns | RetryExecution | ExecutionEnded
           | Log | ExecutionPaused | ResumeExecution)
