"""L1 pure core: trigger and listener conditions (Kestra's ``io.kestra.plugin.core.condition.*``).

Options models only: the scheduler and the executor evaluate them. Each type also answers to
Kestra's legacy names (``io.kestra.core.models.conditions.types.ExecutionFlowCondition``, ...),
taken from the ``@Plugin(aliases=...)`` annotations of Kestra's sources.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from engine.model.task import ConditionOptions, Duration, dynamic
from engine.plugins.base import Condition, PluginKind, PluginSpec
from engine.state import State

PREFIX = "io.kestra.plugin.core.condition."
LEGACY = "io.kestra.core.models.conditions.types."
TRIGGER_DATE = "{{ trigger.date }}"


class DayOfWeek(str, Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class DayInMonth(str, Enum):
    FIRST = "FIRST"
    SECOND = "SECOND"
    THIRD = "THIRD"
    FOURTH = "FOURTH"
    LAST = "LAST"


class Comparison(str, Enum):
    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    SUFFIX = "SUFFIX"


class ExecutionFlow(ConditionOptions):
    namespace: str = Field(description="Namespace of the flow whose execution is tested.")
    flow_id: str


class ExecutionNamespace(ConditionOptions):
    namespace: str
    comparison: Comparison | None = Field(None, description="How the namespace is compared (EQUALS by default).")
    prefix: bool = Field(False, description="Deprecated: use comparison PREFIX.")


class ExecutionStatus(ConditionOptions):
    in_: list[State] | None = Field(None, description="Passes when the execution is in one of these states.")
    not_in: list[State] | None = Field(None, description="Passes when the execution is in none of these states.")


class ExecutionLabels(ConditionOptions):
    labels: dict[str, Any] | list[dict[str, Any]] = Field(description="Labels the execution must have.")


class ExecutionOutputs(ConditionOptions):
    expression: str = dynamic(..., "Expression over `trigger.outputs`; passes when truthy.")


class Expression(ConditionOptions):
    expression: str = dynamic(..., "Passes when it renders to a truthy value.")


class HasRetryAttempt(ConditionOptions):
    in_: list[State] | None = None
    not_in: list[State] | None = None


class DateTimeBetween(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test (the trigger date by default).")
    after: str | None = Field(None, description="ISO-8601 date-time the date must be after.")
    before: str | None = Field(None, description="ISO-8601 date-time the date must be before.")


class TimeBetween(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test.")
    after: str | None = Field(None, description="Time of day (e.g. 09:00:00+01:00) the date must be after.")
    before: str | None = None


class DayWeek(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test.")
    day_of_week: DayOfWeek


class DayWeekInMonth(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test.")
    day_of_week: DayOfWeek
    day_in_month: DayInMonth


class Weekend(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test.")


class PublicHoliday(ConditionOptions):
    date: str = dynamic(TRIGGER_DATE, "The date to test.")
    country: str | None = Field(None, description="ISO 3166 country code; the server's by default.")
    sub_division: str | None = None


class Not(ConditionOptions):
    conditions: list[Condition] = Field(min_length=1, description="Passes when none of them passes.")


class Or(ConditionOptions):
    conditions: list[Condition] = Field(min_length=1, description="Passes when one of them passes.")


class MultipleCondition(ConditionOptions):
    id: str = Field(description="Identifies the window's state.")
    window: Duration = "PT24H"
    window_advance: Duration | None = None
    reset_on_success: bool = True
    conditions: dict[str, Condition] = Field(min_length=1)


class FlowCondition(ConditionOptions):
    namespace: str
    flow_id: str


class FlowNamespaceCondition(ConditionOptions):
    namespace: str
    prefix: bool = False


def _spec(name: str, model: type[ConditionOptions], title: str, *, aliases: tuple[str, ...] | None = None,
          deprecated: bool = False, example: str = "") -> PluginSpec:
    names = aliases if aliases is not None else (f"{LEGACY}{name}Condition", f"{PREFIX}{name}Condition")
    return PluginSpec(type=PREFIX + name, kind=PluginKind.CONDITION, options=model, title=title,
                      aliases=names, deprecated=deprecated, examples=(example,) if example else ())


SPECS: list[PluginSpec] = [
    _spec("ExecutionFlow", ExecutionFlow, "Passes for executions of one flow.",
          example="type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: company.team\nflowId: flow_a"),
    _spec("ExecutionNamespace", ExecutionNamespace, "Passes for executions of a namespace."),
    _spec("ExecutionStatus", ExecutionStatus, "Passes for executions in (or not in) some states.",
          example="type: io.kestra.plugin.core.condition.ExecutionStatus\nin:\n  - SUCCESS"),
    _spec("ExecutionLabels", ExecutionLabels, "Passes for executions having some labels."),
    _spec("ExecutionOutputs", ExecutionOutputs, "Passes when an expression over the outputs is true."),
    _spec("Expression", Expression, "Passes when an expression is true.",
          aliases=(f"{LEGACY}VariableCondition", f"{LEGACY}ExpressionCondition",
                   f"{PREFIX}ExpressionCondition")),
    _spec("HasRetryAttempt", HasRetryAttempt, "Passes for executions with a retried task run."),
    _spec("DateTimeBetween", DateTimeBetween, "Passes when a date is between two date-times."),
    _spec("TimeBetween", TimeBetween, "Passes when a date's time of day is between two times."),
    _spec("DayWeek", DayWeek, "Passes on one day of the week."),
    _spec("DayWeekInMonth", DayWeekInMonth, "Passes on e.g. the first Monday of the month."),
    _spec("Weekend", Weekend, "Passes on Saturdays and Sundays."),
    _spec("PublicHoliday", PublicHoliday, "Passes on public holidays."),
    _spec("Not", Not, "Passes when none of its conditions passes."),
    _spec("Or", Or, "Passes when any of its conditions passes."),
    _spec("MultipleCondition", MultipleCondition, "Passes when all its conditions passed within a window.",
          aliases=(f"{LEGACY}MultipleCondition",), deprecated=True),
    _spec("FlowCondition", FlowCondition, "Deprecated: use ExecutionFlow.",
          aliases=(f"{LEGACY}FlowCondition",), deprecated=True),
    _spec("FlowNamespaceCondition", FlowNamespaceCondition, "Deprecated: use ExecutionNamespace.",
          aliases=(f"{LEGACY}FlowNamespaceCondition",), deprecated=True),
]
