"""L1 pure core: the events the executor's decision function consumes.

Each event is a frozen dataclass; the services layer builds one from a worker message, a fired
timer, a child execution's end or an API call, and passes it to :func:`engine.executor.advance`.
Every event is idempotent: applying it twice changes nothing the second time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.state import State


@dataclass(frozen=True)
class Start:
    """A new execution (CREATED): create its first task runs."""


@dataclass(frozen=True)
class TaskRunResult:
    """A worker's report on one attempt of a task run: RUNNING, or its terminal state.

    ``task_id``, ``parent_task_run_id`` and ``value`` are only needed for a task run the executor
    does not know yet: the children of a WorkingDirectory are created by the worker running it.
    """

    task_run_id: str
    attempt_number: int
    state: State
    outputs: dict[str, Any] = field(default_factory=dict)
    worker_id: str | None = None
    task_id: str | None = None
    parent_task_run_id: str | None = None
    value: str | None = None
    lease_seconds: float | None = None  # RUNNING: the worker's lease, renewed by its heartbeats
    # When the worker started the attempt (ISO 8601): the date of RUNNING, reported or not.
    started_at: str | None = None
    # A terminal result: when the worker ended the attempt (ISO 8601): the date of the end state.
    ended_at: str | None = None


@dataclass(frozen=True)
class LeaseExpired:
    """Beat found the lease of the current attempt of a task run expired (docs/reliability.md).

    ``worker_id`` None: the attempt was dispatched but no worker claimed it (the message may be
    lost): dispatch the same attempt again. Otherwise the worker stopped renewing it (it died):
    the attempt ends KILLED and the task run gets a new attempt. ``lease_until`` is the deadline
    beat wrote when it reported the expiry (ISO 8601): if the lease now says otherwise, the worker
    renewed it meanwhile and the event is ignored.
    """

    task_run_id: str
    attempt_number: int
    worker_id: str | None = None
    lease_until: str | None = None


class TimerKind(str, Enum):
    RETRY = "retry"                  # a RETRYING task run gets its next attempt
    PAUSE_DELAY = "pause-delay"      # a paused Pause task resumes by itself
    PAUSE_TIMEOUT = "pause-timeout"  # a paused Pause task that was not resumed fails
    WAITFOR = "waitfor"              # a WaitFor starts its next iteration
    SLA = "sla"                      # a MAX_DURATION SLA is due: its "task run id" is the execution's


@dataclass(frozen=True)
class TimerFired:
    task_run_id: str
    kind: TimerKind
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubflowStarted:
    """The services layer created the child execution asked for by ``StartSubflow``."""

    task_run_id: str
    child_execution_id: str
    iteration: int | None = None


@dataclass(frozen=True)
class SubflowEnded:
    """A child execution started with ``wait`` ended; ``outputs`` are its flow outputs."""

    task_run_id: str
    child_execution_id: str
    state: State
    outputs: dict[str, Any] = field(default_factory=dict)
    iteration: int | None = None


@dataclass(frozen=True)
class ItemsSplit:
    """The services layer split a ForEachItem's ``items`` into batch files (``SplitItems``);
    ``splits`` is the file listing them, when it wrote one."""

    task_run_id: str
    batch_uris: tuple[str, ...]
    splits: str | None = None


@dataclass(frozen=True)
class ItemsMerged:
    """The services layer merged the children's outputs of a ForEachItem (``MergeItemsOutputs``)."""

    task_run_id: str
    uri: str | None


@dataclass(frozen=True)
class Kill:
    """Kill the execution: RUNNING or PAUSED -> KILLING, then KILLED once every task run ended."""


@dataclass(frozen=True)
class Resume:
    """Resume a PAUSED execution; ``inputs`` are the Pause task's ``onResume`` values, already parsed."""

    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wake:
    """Re-evaluate the execution without any new fact (after an operation changed it)."""


Event = (Start | TaskRunResult | LeaseExpired | TimerFired | SubflowStarted | SubflowEnded | ItemsSplit
         | ItemsMerged | Kill | Resume | Wake)
