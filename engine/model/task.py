"""L1 pure core: the properties every task, trigger and condition shares, and retry policies.

Plugin options models subclass :class:`TaskOptions` (tasks), :class:`FlowableOptions`
(flowable tasks, which add ``errors`` and ``finally``), :class:`TriggerOptions` or
:class:`ConditionOptions`. Fields marked ``dynamic`` take ``{{ expressions }}``.
"""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from engine.durations import parse_duration
from engine.log_levels import LogLevel as LogLevel  # re-exported: the log level of task options
from engine.plugins.base import Condition, Options, TaskList

TASK_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"


def is_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def _check_duration(value: str) -> str:
    if not is_expression(value):
        parse_duration(value)
    return value


# An ISO-8601 duration (``PT5M``), or an expression that renders to one.
Duration = Annotated[str, AfterValidator(_check_duration)]


def dynamic(default: Any = ..., description: str = "", **kwargs: Any) -> Any:
    """A field that accepts ``{{ expressions }}`` (Kestra's ``@PluginProperty(dynamic = true)``).

    ``default`` is ``...`` for a required field, as with pydantic's ``Field``.
    """
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["dynamic"] = True
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


class RetryBehavior(str, Enum):
    RETRY_FAILED_TASK = "RETRY_FAILED_TASK"
    CREATE_NEW_EXECUTION = "CREATE_NEW_EXECUTION"


def renamed(data: Any, old: str, new: str) -> Any:
    """``data`` with the deprecated key ``old`` moved to ``new`` (Kestra keeps ``old`` as an alias).

    Both at once is refused: which one wins would depend on the order of the keys.
    """
    if not isinstance(data, dict) or old not in data:
        return data
    if new in data:
        raise ValueError(f"'{old}' and '{new}' are the same property ('{old}' is its deprecated name); "
                         f"keep only '{new}'")
    data = dict(data)
    data[new] = data.pop(old)
    return data


class _RetryBase(Options):
    max_attempts: int | None = Field(None, ge=1, description="Total attempts, the first one included "
                                                             "(`maxAttempt` is its 0.21 name).")
    max_duration: Duration | None = Field(None, description="No retry starts after first start + this.")
    warning_on_retry: bool = Field(False, description="A task that succeeds only after a retry ends WARNING.")
    behavior: RetryBehavior = RetryBehavior.RETRY_FAILED_TASK

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return renamed(data, "maxAttempt", "maxAttempts")


class ConstantRetry(_RetryBase):
    type: Literal["constant"]
    interval: Duration


class ExponentialRetry(_RetryBase):
    type: Literal["exponential"]
    interval: Duration
    max_interval: Duration
    delay_factor: float | None = None


class RandomRetry(_RetryBase):
    type: Literal["random"]
    min_interval: Duration
    max_interval: Duration


RetryPolicy = ConstantRetry | ExponentialRetry | RandomRetry
Retry = Annotated[RetryPolicy, Field(discriminator="type")]


class WorkerGroupFallback(str, Enum):
    FAIL = "FAIL"
    WAIT = "WAIT"
    CANCEL = "CANCEL"


class WorkerGroup(Options):
    key: str = dynamic(..., "Name of the worker group; Podium routes the task to the Celery queue of that name.")
    fallback: WorkerGroupFallback = WorkerGroupFallback.WAIT


def _positive_duration(value: str) -> str:
    if parse_duration(value).total_seconds() <= 0:
        raise ValueError(f"'{value}' must be a positive duration (e.g. PT1H)")
    return value


class TaskCache(Options):
    """Kestra's ``taskCache``: a runnable task's outputs, reused by later runs of the same task
    with the same rendered properties (engine/tasks/task_cache.py)."""

    enabled: bool = Field(description="Reuse the outputs of an earlier successful run.")
    ttl: Annotated[str, AfterValidator(_positive_duration)] | None = Field(
        None, description="How long an entry is reused (ISO-8601, e.g. PT1H); forever when unset.")


class TaskOptions(Options):
    """Properties shared by every task (Kestra's ``Task``)."""

    id: str = Field(pattern=TASK_ID_PATTERN, max_length=100,
                    description="Unique in the flow; letters, digits, '_' and '-'.")
    type: str
    description: str | None = None
    retry: Retry | None = None
    timeout: Duration | None = dynamic(None, "ISO-8601 duration after which the task run is stopped and FAILED.")
    disabled: bool = False
    log_level: LogLevel | None = None
    log_to_file: bool = False
    allow_failure: bool = False
    allow_warning: bool = False
    run_if: str | bool | None = dynamic(None, "Skipped (SKIPPED) when this renders to false, 0 or empty.")
    worker_group: WorkerGroup | None = None
    task_cache: TaskCache | None = Field(None, description="Runnable tasks only: reuse earlier outputs.")


class FlowableOptions(TaskOptions):
    """A task resolved by the executor; it may handle its children's failures itself."""

    errors: TaskList | None = None
    finally_: TaskList | None = None


class TriggerOptions(Options):
    """Properties shared by every trigger (Kestra's ``AbstractTrigger``)."""

    id: str = Field(pattern=TASK_ID_PATTERN, max_length=100)
    type: str
    description: str | None = None
    conditions: list[Condition] | None = None
    disabled: bool = False
    worker_group: WorkerGroup | None = None
    log_level: LogLevel | None = None
    min_log_level: LogLevel | None = None
    log_to_file: bool = False
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    stop_after: list[str] | None = None
    allow_concurrent: bool = Field(False, description="Start an execution even while the last one this "
                                                      "trigger started still runs (default: wait for its end).")


class ConditionOptions(Options):
    """Properties shared by every condition."""

    type: str


def iter_subtask_fields(options: Options) -> list[tuple[str, list[Any]]]:
    """Every (field name, list of child tasks) on a parsed task, ``errors`` and ``finally`` included.

    Works for any options model: a field counts when it holds a list of parsed task options,
    or a mapping of such lists (Switch ``cases``).
    """
    found: list[tuple[str, list[Any]]] = []
    for name in type(options).model_fields:
        value = getattr(options, name)
        if isinstance(value, list) and value and all(isinstance(v, TaskOptions) for v in value):
            found.append((name, value))
        elif isinstance(value, dict) and value and all(
                isinstance(v, list) and all(isinstance(t, TaskOptions) for t in v) for v in value.values()):
            for key, tasks in value.items():
                found.append((f"{name}.{key}", tasks))
    return found

