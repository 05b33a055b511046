"""L1 pure core: the flow, Kestra's ``Flow`` (docs/flow-language.md), as a strict model.

Parse with ``Flow.model_validate(data, context={"registry": registry})``: tasks, triggers and
conditions are parsed by their plugin's options model, found through the registry. Besides each
field's own constraints, the flow-wide rules of Kestra's ``FlowValidator`` (unique ids, input
dependencies, reserved labels, a subflow calling its own flow) are checked on the raw mapping
too (see "Flow-wide rules" below), so that every problem comes back in one ``ValidationError``,
each with its location. ``engine.loader`` reads YAML with line numbers; this module does no I/O.
"""
from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from functools import cached_property
from typing import Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from engine.model.flow_rules import flow_problems
from engine.model.input_types import InputBase
from engine.model.input_values import as_list
from engine.model.inputs import INPUT_TYPES, OUTPUT_TYPES, Input, invalid_type_message
from engine.model.task import Duration, Retry, TaskOptions, WorkerGroup
from engine.plugins.base import Condition, Options, TaskList, Trigger

FLOW_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Label(Options):
    key: str = Field(min_length=1)
    value: str

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_to_text(cls, value: Any) -> Any:
        # YAML reads `priority: 1` as a number; Kestra labels are text.
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, (int, float)) else value


def labels_as_list(value: Any) -> Any:
    """Labels written as a map (``{team: data}``) become Kestra's list of ``{key, value}``."""
    if isinstance(value, dict):
        return [{"key": k, "value": v} for k, v in value.items()]
    return value


class Output(Options):
    """A flow output, rendered when the execution ends and parsed by its type."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")
    type: str
    value: Any = Field(description="Expression (or structure of expressions) giving the value.")
    description: str | None = None
    display_name: str | None = Field(None, max_length=64)
    required: bool | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in OUTPUT_TYPES:
            raise ValueError(invalid_type_message(value))
        return value

    def parse(self, value: Any) -> Any:
        """The rendered value parsed by the output's type; raises ValueError if it does not fit."""
        if self.type == "ARRAY":  # an output declares no item type: items are kept as rendered
            return as_list(value)
        return INPUT_TYPES[self.type].model_construct(id=self.id, type=self.type).parse(value)




class PluginDefault(Options):
    type: str = Field(min_length=1, description="Type name, or a prefix of type names.")
    forced: bool = Field(False, description="Override the flow's own values instead of filling gaps.")
    values: dict[str, Any] = Field(default_factory=dict)


class ConcurrencyBehavior(str, Enum):
    QUEUE = "QUEUE"
    CANCEL = "CANCEL"
    FAIL = "FAIL"


class Concurrency(Options):
    limit: int = Field(gt=0, description="Maximum number of running executions of the flow.")
    behavior: ConcurrencyBehavior = ConcurrencyBehavior.QUEUE


class SlaType(str, Enum):
    MAX_DURATION = "MAX_DURATION"
    EXECUTION_ASSERTION = "EXECUTION_ASSERTION"


class SlaBehavior(str, Enum):
    FAIL = "FAIL"
    CANCEL = "CANCEL"
    NONE = "NONE"


class Sla(Options):
    id: str
    type: SlaType
    behavior: SlaBehavior = SlaBehavior.FAIL
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    duration: Duration | None = Field(None, description="MAX_DURATION: the longest an execution may run.")
    assert_: str | None = Field(None, description="EXECUTION_ASSERTION: expression that must stay true.")

    @model_validator(mode="after")
    def _has_its_property(self) -> Sla:
        needed = "duration" if self.type is SlaType.MAX_DURATION else "assert_"
        if getattr(self, needed) is None:
            name = needed.rstrip("_")
            raise ValueError(f"an SLA of type {self.type.value} needs '{name}'")
        return self


class CheckStyle(str, Enum):
    ERROR = "ERROR"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    INFO = "INFO"


class CheckBehavior(str, Enum):
    BLOCK_EXECUTION = "BLOCK_EXECUTION"
    FAIL_EXECUTION = "FAIL_EXECUTION"
    CREATE_EXECUTION = "CREATE_EXECUTION"


class Check(Options):
    """A pre-execution check on the inputs (Kestra 1.2)."""

    condition: str
    message: str
    style: CheckStyle = CheckStyle.INFO
    behavior: CheckBehavior = CheckBehavior.BLOCK_EXECUTION


class Listener(Options):
    """Deprecated: tasks run after the execution ends, when the conditions match."""

    description: str | None = None
    conditions: list[Condition] | None = None
    tasks: TaskList = Field(min_length=1)


class Flow(Options):
    """A flow as written in YAML, every task, trigger and condition parsed by its plugin model."""

    id: str = Field(pattern=FLOW_ID_PATTERN, min_length=1, max_length=100)
    namespace: str = Field(pattern=NAMESPACE_PATTERN, min_length=1, max_length=150)
    revision: int | None = Field(None, ge=1)
    description: str | None = None
    labels: list[Label] = Field(default_factory=list)
    inputs: list[Input] | None = None
    outputs: list[Output] | None = None
    variables: dict[str, Any] | None = None
    tasks: TaskList = Field(min_length=1)
    errors: TaskList | None = None
    finally_: TaskList | None = None
    after_execution: TaskList | None = None
    listeners: list[Listener] | None = Field(None, json_schema_extra={"deprecated": True})
    triggers: list[Trigger] | None = None
    plugin_defaults: list[PluginDefault] | None = None
    task_defaults: list[PluginDefault] | None = Field(None, json_schema_extra={"deprecated": True})
    disabled: bool = False
    deleted: bool = False
    concurrency: Concurrency | None = None
    retry: Retry | None = None
    sla: list[Sla] | None = None
    checks: list[Check] | None = None
    worker_group: WorkerGroup | None = None
    tenant_id: str | None = Field(None, pattern=TENANT_PATTERN)

    _labels_from_map = field_validator("labels", mode="before")(classmethod(
        lambda cls, value: labels_as_list(value) if value is not None else []))

    @model_validator(mode="wrap")
    @classmethod
    def _flow_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Flow], info: ValidationInfo) -> Flow:
        problems = flow_problems(data, info.context or {}) if isinstance(data, dict) else []
        try:
            flow = handler(data)
        except ValidationError as err:
            raise _merged(cls.__name__, err.errors(), problems) from None
        if problems:
            raise _merged(cls.__name__, [], problems)
        return flow

    @property
    def label_map(self) -> dict[str, str]:
        """Labels as a mapping (the last one wins when a key repeats)."""
        return {label.key: label.value for label in self.labels}

    @property
    def input_map(self) -> dict[str, InputBase]:
        return {i.id: i for i in self.inputs or []}

    def all_tasks(self) -> list[TaskOptions]:
        """Every task at every nesting level: tasks, errors, finally, afterExecution, listeners."""
        roots: list[Any] = [self.tasks, self.errors, self.finally_, self.after_execution,
                            [listener.tasks for listener in self.listeners or []]]
        return list(_walk_tasks(roots))

    def find_task(self, task_id: str) -> TaskOptions | None:
        return self._task_index.get(task_id)

    @cached_property
    def _task_index(self) -> dict[str, TaskOptions]:
        # A parsed flow never changes, and workers look a task up for every task run they run.
        return {task.id: task for task in self.all_tasks()}


def _walk_tasks(value: Any) -> Iterator[TaskOptions]:
    """Tasks found in ``value``: lists, mappings (Switch cases) and entries (Dag ``task``)."""
    if isinstance(value, TaskOptions):
        yield value
        for name in type(value).model_fields:
            yield from _walk_tasks(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_tasks(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_tasks(item)
    elif isinstance(value, Options) and not isinstance(value, InputBase):
        for name in type(value).model_fields:
            yield from _walk_tasks(getattr(value, name))


def _merged(title: str, errors: list[ErrorDetails], problems: list[tuple[tuple[Any, ...], str]]) -> ValidationError:
    """One ValidationError holding pydantic's errors and the flow rules' problems."""
    details = [_detail(e) for e in errors]
    details += [InitErrorDetails(type=PydanticCustomError("flow_rule", message), loc=loc, input=None)
                for loc, message in problems]
    return ValidationError.from_exception_data(title, details)


def _detail(error: ErrorDetails) -> InitErrorDetails:
    detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error.get("input"))
    if "ctx" in error:
        detail["ctx"] = error["ctx"]
    try:  # pydantic's own error types keep their context; custom ones keep their message
        ValidationError.from_exception_data("probe", [detail])
    except (KeyError, TypeError, ValueError):
        return InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"]),
                                loc=error["loc"], input=error.get("input"))
    return detail
