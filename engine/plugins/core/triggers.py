"""L1 pure core: trigger types (Kestra's ``io.kestra.plugin.core.trigger.*`` and ``http.Trigger``).

Options models only: ``beat/`` evaluates Schedule, ScheduleOnDates and polling triggers, the
executor evaluates Flow triggers and ``app/`` serves webhooks. Cron expressions and time zones
are checked here, when the flow is validated, so that a typo never reaches the scheduler.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from engine.model.input_types import field_error
from engine.model.task import Duration, TriggerOptions, dynamic, is_expression
from engine.plugins.base import Condition, Options, PluginKind, PluginSpec
from engine.state import State

PREFIX = "io.kestra.plugin.core.trigger."
LEGACY = "io.kestra.core.models.triggers.types."
CRON_NICKNAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_PATTERN_INVALID = "'{cron}' is not a valid cron expression: {why}"
_OFFSET = re.compile(r"^(?:(?:UTC|GMT|UT)?[+-]\d{1,2}(?::?\d{2})?|Z|UTC|GMT)$")


def check_cron(cron: str, with_seconds: bool = False) -> None:
    """Raises ValueError saying what is wrong with a Kestra cron expression."""
    text = cron.strip()
    if text.startswith("@"):
        if text not in CRON_NICKNAMES:
            raise ValueError(CRON_PATTERN_INVALID.format(
                cron=cron, why=f"unknown nickname; use one of {', '.join(CRON_NICKNAMES)}"))
        return
    fields = len(text.split())
    expected = 6 if with_seconds else 5
    if fields != expected:
        how = ("with withSeconds: true it needs 6 fields (second minute hour day-of-month month "
               "day-of-week)" if with_seconds else "it needs 5 fields (minute hour day-of-month month "
               "day-of-week); for a seconds field set withSeconds: true")
        raise ValueError(CRON_PATTERN_INVALID.format(cron=cron, why=f"it has {fields} fields, {how}"))
    if not croniter.is_valid(text, second_at_beginning=with_seconds):
        raise ValueError(CRON_PATTERN_INVALID.format(
            cron=cron, why="a field is out of range or malformed (e.g. minute 0-59, hour 0-23)"))


def check_timezone(zone: str) -> str:
    """Raises ValueError unless ``zone`` is an IANA zone (Europe/Paris) or a UTC offset."""
    if _OFFSET.match(zone):
        return zone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{zone}'; use an IANA name such as Europe/Paris, "
                         "America/New_York or UTC") from None
    return zone


class RecoverMissedSchedules(str, Enum):
    ALL = "ALL"
    LAST = "LAST"
    NONE = "NONE"


class ScheduleBackfill(Options):
    start: str = Field(description="First date to run (ISO-8601).")
    end: str | None = None
    inputs: dict[str, Any] | None = None
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    paused: bool = False


class _Timezoned(TriggerOptions):
    timezone: str | None = Field(None, description="IANA time zone; the server's by default.")
    inputs: dict[str, Any] | None = Field(None, description="Inputs of the created executions.")
    recover_missed_schedules: RecoverMissedSchedules | None = Field(
        None, description="What to do with dates missed while Podium was down (ALL by default).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        return check_timezone(zone) if zone is not None and not is_expression(zone) else zone


class Schedule(_Timezoned):
    cron: str = Field(description="Cron expression: 5 fields, 6 with withSeconds, or @daily etc.")
    with_seconds: bool = False
    schedule_conditions: list[Condition] | None = Field(None, description="Deprecated: use conditions.")
    late_maximum_delay: Duration | None = Field(None, description="Skip a date that is later than this.")
    backfill: ScheduleBackfill | None = Field(None, description="Deprecated: use the API or the UI.")
    interval: Duration | None = Field(None, description="Ignored; kept for old flows.")

    @model_validator(mode="after")
    def _valid_cron(self) -> Schedule:
        try:
            check_cron(self.cron, self.with_seconds)
        except ValueError as err:
            raise field_error("cron", str(err), self.cron, "cron") from None
        return self


class ScheduleOnDates(_Timezoned):
    dates: list[str] | str = dynamic(..., "Date-times (ISO-8601) to run at, or an expression giving them.")


class FilterField(str, Enum):
    FLOW_ID = "FLOW_ID"
    NAMESPACE = "NAMESPACE"
    STATE = "STATE"
    EXPRESSION = "EXPRESSION"


class FilterType(str, Enum):
    EQUAL_TO = "EQUAL_TO"
    NOT_EQUAL_TO = "NOT_EQUAL_TO"
    IN = "IN"
    NOT_IN = "NOT_IN"
    IS_TRUE = "IS_TRUE"
    IS_FALSE = "IS_FALSE"
    IS_NULL = "IS_NULL"
    IS_NOT_NULL = "IS_NOT_NULL"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    REGEX = "REGEX"
    CONTAINS = "CONTAINS"


class PreconditionFilter(Options):
    field: FilterField
    type: FilterType
    value: str | None = None
    values: list[str] | None = None


class PreconditionWhere(Options):
    id: str
    operand: str = Field("AND", pattern="^(AND|OR)$")
    filters: list[PreconditionFilter] = Field(min_length=1)


class UpstreamFlow(Options):
    namespace: str
    flow_id: str | None = None
    states: list[State] | None = None
    labels: dict[str, Any] | None = None


class TimeWindowType(str, Enum):
    DURATION_WINDOW = "DURATION_WINDOW"
    SLIDING_WINDOW = "SLIDING_WINDOW"
    DAILY_TIME_DEADLINE = "DAILY_TIME_DEADLINE"
    DAILY_TIME_WINDOW = "DAILY_TIME_WINDOW"


class TimeWindow(Options):
    type: TimeWindowType = TimeWindowType.DURATION_WINDOW
    window: Duration | None = None
    window_advance: Duration | None = None
    deadline: str | None = None
    start_time: str | None = None
    end_time: str | None = None


class Preconditions(Options):
    id: str | None = None
    flows: list[UpstreamFlow] | None = None
    where: list[PreconditionWhere] | None = None
    time_window: TimeWindow | None = None
    reset_on_success: bool = True


class FlowTrigger(TriggerOptions):
    states: list[State] | None = Field(None, description="States of upstream executions that fire "
                                                         "the trigger (terminal states and PAUSED by default).")
    inputs: dict[str, Any] | None = Field(None, description="Inputs; may read {{ trigger.outputs.x }}.")
    preconditions: Preconditions | None = None

    @field_validator("states")
    @classmethod
    def _no_created(cls, states: list[State] | None) -> list[State] | None:
        if states and State.CREATED in states:
            raise ValueError("CREATED is not allowed: an execution is only seen once it runs")
        return states


class Webhook(TriggerOptions):
    key: str = dynamic(..., "Secret part of the webhook URL.", min_length=1, max_length=256)
    inputs: dict[str, Any] | None = None
    wait: bool = False
    return_outputs: bool = False
    response_content_type: str | None = None


class HttpTrigger(TriggerOptions):
    uri: str = dynamic(..., "URL polled every interval.")
    method: str = "GET"
    body: str | None = dynamic(None)
    form_data: dict[str, Any] | None = None
    content_type: str | None = None
    headers: dict[str, Any] | None = None
    options: dict[str, Any] | None = Field(None, description="Timeouts, redirects, basic auth, proxy.")
    ssl_options: dict[str, Any] | None = None
    encrypt_body: bool = False
    allow_failed: bool = False
    response_condition: str = dynamic("{{ response.statusCode < 400 }}",
                                      "An execution is created when this is true.")
    interval: Duration = "PT60S"
    inputs: dict[str, Any] | None = None


def _spec(name: str, model: type[TriggerOptions], title: str, aliases: tuple[str, ...],
          example: str) -> PluginSpec:
    return PluginSpec(type=PREFIX + name, kind=PluginKind.TRIGGER, options=model, title=title,
                      aliases=aliases, examples=(example,))


SPECS: list[PluginSpec] = [
    _spec("Schedule", Schedule, "Start executions on a cron schedule.", (f"{LEGACY}Schedule",),
          "id: daily\ntype: io.kestra.plugin.core.trigger.Schedule\ncron: \"0 9 * * *\"\n"
          "timezone: Europe/Paris"),
    _spec("ScheduleOnDates", ScheduleOnDates, "Start executions at given dates.", (),
          "id: once\ntype: io.kestra.plugin.core.trigger.ScheduleOnDates\ndates:\n"
          "  - 2025-01-01T09:00:00Z"),
    _spec("Flow", FlowTrigger, "Start executions when executions of other flows end.",
          (f"{LEGACY}Flow",),
          "id: upstream\ntype: io.kestra.plugin.core.trigger.Flow\npreconditions:\n  id: upstream\n"
          "  flows:\n    - namespace: company.team\n      flowId: extract\n      states: [SUCCESS]"),
    _spec("Webhook", Webhook, "Start executions from an HTTP call.", (f"{LEGACY}Webhook",),
          "id: webhook\ntype: io.kestra.plugin.core.trigger.Webhook\nkey: 4wjtkzwVGBM9yKnjm3yv8r"),
    PluginSpec(type="io.kestra.plugin.core.http.Trigger", kind=PluginKind.TRIGGER, options=HttpTrigger,
               title="Start executions when an HTTP endpoint answers as expected.",
               aliases=("io.kestra.plugin.fs.http.Trigger",), implementation=None,
               examples=("id: http\ntype: io.kestra.plugin.core.http.Trigger\n"
                         "uri: https://example.com/health\ninterval: PT30S",)),
]
