"""L1 pure core: executions, task runs and attempts, in Kestra's JSON shape.

Records are immutable pydantic models: a change is a copy (``with_*`` methods or
``model_copy(update=...)``). Python attributes are snake_case; the JSON form
(``to_json()``) uses Kestra's camelCase names, so the REST API and the CLI's
``--json`` output look like Kestra's. Time is always passed in, never read here.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from engine.ids import new_id
from engine.state import State, transition

SCHEMA_VERSION = 1


class Record(BaseModel):
    """Base of stored records: frozen, camelCase in JSON, snake_case in Python."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True,
                              extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StateHistory(Record):
    state: State
    date: datetime


class StateRecord(Record):
    """A current state plus its dated history (Kestra's ``State``)."""

    current: State
    histories: tuple[StateHistory, ...] = ()

    @classmethod
    def start(cls, state: State, now: datetime) -> StateRecord:
        return cls(current=state, histories=(StateHistory(state=state, date=now),))

    def with_state(self, target: State, now: datetime, record: str = "record") -> StateRecord:
        """A copy in ``target``; raises IllegalTransition; the same state again is a no-op."""
        if target == self.current:
            return self
        transition(record, self.current, target)
        return StateRecord(current=target,
                           histories=(*self.histories, StateHistory(state=target, date=now)))

    @property
    def start_date(self) -> datetime | None:
        return self.histories[0].date if self.histories else None

    @property
    def end_date(self) -> datetime | None:
        if self.current.is_terminated or self.current == State.PAUSED:
            return self.histories[-1].date if self.histories else None
        return None

    def duration(self, now: datetime) -> float:
        """Seconds from the first history entry to the end (or to ``now`` while unfinished)."""
        start = self.start_date
        if start is None:
            return 0.0
        return ((self.end_date or now) - start).total_seconds()


class Attempt(Record):
    state: StateRecord
    worker_id: str | None = None
    # A worker holding this attempt renews the lease; the reaper re-dispatches an expired one.
    lease_until: datetime | None = None


class TaskRun(Record):
    id: str = Field(default_factory=new_id)
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    attempts: tuple[Attempt, ...] = ()
    outputs: dict[str, Any] = Field(default_factory=dict)
    state: StateRecord
    items: str | None = None

    def describe(self) -> str:
        value = f"[{self.value}]" if self.value is not None else ""
        return f"task run {self.id} ({self.task_id}{value})"

    def with_state(self, target: State, now: datetime) -> TaskRun:
        return self.model_copy(update={"state": self.state.with_state(target, now, self.describe())})


class Label(Record):
    key: str
    value: str


class ExecutionTrigger(Record):
    id: str
    type: str
    variables: dict[str, Any] = Field(default_factory=dict)


class ExecutionMetadata(Record):
    attempt_number: int = 1
    original_created_date: datetime | None = None


class Execution(Record):
    id: str = Field(default_factory=new_id)
    namespace: str
    flow_id: str
    flow_revision: int
    task_run_list: tuple[TaskRun, ...] = ()
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    labels: tuple[Label, ...] = ()
    variables: dict[str, Any] = Field(default_factory=dict)
    state: StateRecord
    parent_id: str | None = None
    original_id: str | None = None
    trigger: ExecutionTrigger | None = None
    metadata: ExecutionMetadata = Field(default_factory=ExecutionMetadata)
    schedule_date: datetime | None = None
    deleted: bool = False
    schema_version: int = SCHEMA_VERSION

    def describe(self) -> str:
        return f"execution {self.id} ({self.namespace}.{self.flow_id})"

    def to_json(self, *, with_task_runs: bool = True) -> dict[str, Any]:
        """Kestra's JSON; ``with_task_runs=False`` leaves ``taskRunList`` out without dumping it
        (the execution row stores its task runs as rows of their own)."""
        if with_task_runs:
            data = super().to_json()
        else:
            data = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"task_run_list"})
        if not self.outputs:
            data.pop("outputs", None)  # Kestra leaves outputs null when the flow produced none
        return data

    def with_state(self, target: State, now: datetime) -> Execution:
        return self.model_copy(update={"state": self.state.with_state(target, now, self.describe())})

    def task_run(self, task_run_id: str) -> TaskRun:
        for run in self.task_run_list:
            if run.id == task_run_id:
                return run
        raise KeyError(f"{self.describe()} has no task run {task_run_id}")

    def with_task_run(self, changed: TaskRun) -> Execution:
        """A copy where the task run with ``changed.id`` is replaced, or appended if new."""
        runs = list(self.task_run_list)
        for index, run in enumerate(runs):
            if run.id == changed.id:
                runs[index] = changed
                break
        else:
            runs.append(changed)
        return self.model_copy(update={"task_run_list": tuple(runs)})

    @property
    def label_map(self) -> dict[str, str]:
        return {label.key: label.value for label in self.labels}
