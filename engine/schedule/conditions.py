"""L1 pure core: the conditions of a Schedule, evaluated for one fire date.

Kestra's ``ScheduleCondition`` types: DayWeek, DayWeekInMonth, Weekend, TimeBetween,
DateTimeBetween, Expression, and Not / Or around them. A date whose conditions do not all pass
is skipped (the schedule moves on to its next date, it does not wait).

Every condition's ``date`` defaults to ``{{ trigger.date }}``: that case is read straight from
the fire time; any other value is rendered with the ``render`` function the caller passes
(the services layer's renderer), with ``trigger.date/next/previous`` in its context.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from engine.model.task import ConditionOptions
from engine.plugins.core import conditions as kinds
from engine.schedule.cron import FireTime
from engine.templating.truth import is_truthy

Render = Callable[[str, Mapping[str, Any]], Any]
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_NTH = {"FIRST": 0, "SECOND": 1, "THIRD": 2, "FOURTH": 3}


class ConditionError(ValueError):
    """A condition could not be evaluated (bad date, unsupported type); the message says which."""


def all_pass(conditions: Sequence[ConditionOptions], fire: FireTime, context: Mapping[str, Any],
             render: Render) -> bool:
    """True when every condition passes for ``fire`` (an empty list passes)."""
    return all(passes(condition, fire, context, render) for condition in conditions)


def passes(condition: ConditionOptions, fire: FireTime, context: Mapping[str, Any], render: Render) -> bool:
    """One condition for one fire date; raises ConditionError for types a Schedule cannot use."""
    if isinstance(condition, kinds.Not):
        return not any(passes(c, fire, context, render) for c in condition.conditions)
    if isinstance(condition, kinds.Or):
        return any(passes(c, fire, context, render) for c in condition.conditions)
    if isinstance(condition, kinds.Expression):
        return is_truthy(render(condition.expression, context))
    check = _DATE_CHECKS.get(type(condition))
    if check is None:
        raise ConditionError(f"condition type {getattr(condition, 'type', condition)} cannot be used "
                             "on a schedule; use DayWeek, DayWeekInMonth, Weekend, TimeBetween, "
                             "DateTimeBetween, Expression, Not or Or")
    moment = _date_of(condition, fire, context, render)
    return bool(check(condition, moment, fire.local.tzinfo))


def _date_of(condition: ConditionOptions, fire: FireTime, context: Mapping[str, Any], render: Render) -> datetime:
    template = getattr(condition, "date", kinds.TRIGGER_DATE) or kinds.TRIGGER_DATE
    if template.replace(" ", "") == kinds.TRIGGER_DATE.replace(" ", ""):
        return fire.local
    text = str(render(template, context))
    return parse_moment(text, fire.local.tzinfo, what=f"date '{text}' of the {condition.type} condition")


def parse_moment(text: str, zone: tzinfo | None, *, what: str) -> datetime:
    """An ISO-8601 date-time; one without an offset is read in ``zone``."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"{what} is not an ISO-8601 date-time (e.g. 2025-01-31T09:00:00+01:00)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _day_week(condition: kinds.DayWeek, moment: datetime, zone: tzinfo | None) -> bool:
    return WEEKDAYS[moment.weekday()] == condition.day_of_week.value


def _day_week_in_month(condition: kinds.DayWeekInMonth, moment: datetime, zone: tzinfo | None) -> bool:
    if WEEKDAYS[moment.weekday()] != condition.day_of_week.value:
        return False
    which = condition.day_in_month.value
    if which == "LAST":
        return (moment.date() + timedelta(days=7)).month != moment.month
    return (moment.day - 1) // 7 == _NTH[which]


def _weekend(condition: kinds.Weekend, moment: datetime, zone: tzinfo | None) -> bool:
    return moment.weekday() >= 5


def _time_between(condition: kinds.TimeBetween, moment: datetime, zone: tzinfo | None) -> bool:
    """Kestra compares OffsetTimes: both sides are brought to UTC on the date's own day."""
    after = _bound_time(condition.after, moment, "after")
    before = _bound_time(condition.before, moment, "before")
    return _between(moment, after, before)


def _bound_time(text: str | None, moment: datetime, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        clock = time.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"TimeBetween {name} '{text}' is not a time of day "
                             "(e.g. 09:00:00 or 09:00:00+01:00)") from None
    zone = clock.tzinfo or moment.tzinfo
    return datetime.combine(moment.date(), clock.replace(tzinfo=None), tzinfo=zone)


def _date_time_between(condition: kinds.DateTimeBetween, moment: datetime, zone: tzinfo | None) -> bool:
    after = parse_moment(condition.after, zone, what=f"DateTimeBetween after '{condition.after}'") \
        if condition.after else None
    before = parse_moment(condition.before, zone, what=f"DateTimeBetween before '{condition.before}'") \
        if condition.before else None
    return _between(moment, after, before)


def _between(moment: datetime, after: datetime | None, before: datetime | None) -> bool:
    # Strict on both sides, as Kestra's isAfter / isBefore.
    return (after is None or moment > after) and (before is None or moment < before)


_DATE_CHECKS: dict[type, Callable[[Any, datetime, tzinfo | None], bool]] = {
    kinds.DayWeek: _day_week,
    kinds.DayWeekInMonth: _day_week_in_month,
    kinds.Weekend: _weekend,
    kinds.TimeBetween: _time_between,
    kinds.DateTimeBetween: _date_time_between,
}
