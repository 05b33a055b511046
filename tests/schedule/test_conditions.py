"""Schedule conditions evaluated per fire date (real option models, real renderer)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.plugins.core import conditions as kinds
from engine.schedule import FireTime
from engine.schedule.conditions import ConditionError, all_pass, passes
from engine.templating import Renderer

PARIS = ZoneInfo("Europe/Paris")
RENDER = Renderer(default_timezone="UTC").render


def fire(day: int, hour: int = 9, month: int = 1) -> FireTime:
    local = datetime(2025, month, day, hour, tzinfo=PARIS)
    return FireTime(at=local.astimezone(UTC), local=local)


def ctx(f: FireTime) -> dict[str, Any]:
    return {"trigger": {"date": f.iso}}


def check(condition: Any, f: FireTime) -> bool:
    return passes(condition, f, ctx(f), RENDER)


def test_day_week_and_weekend() -> None:
    monday, saturday = fire(6), fire(4)
    assert check(kinds.DayWeek(type="x", day_of_week="MONDAY"), monday)
    assert not check(kinds.DayWeek(type="x", day_of_week="MONDAY"), saturday)
    assert check(kinds.Weekend(type="x"), saturday) and not check(kinds.Weekend(type="x"), monday)


@pytest.mark.parametrize(("day", "which", "expected"), [
    (6, "FIRST", True), (13, "SECOND", True), (20, "THIRD", True), (27, "FOURTH", True),
    (27, "LAST", True), (20, "LAST", False), (13, "FIRST", False),
])
def test_day_week_in_month(day: int, which: str, expected: bool) -> None:
    condition = kinds.DayWeekInMonth(type="x", day_of_week="MONDAY", day_in_month=which)
    assert check(condition, fire(day)) is expected


def test_time_and_date_time_between() -> None:
    nine = fire(6, 9)
    assert check(kinds.TimeBetween(type="x", after="08:00:00", before="10:00:00"), nine)
    assert not check(kinds.TimeBetween(type="x", after="09:00:00"), nine)  # strict, as Kestra
    assert check(kinds.TimeBetween(type="x", after="07:30:00+00:00"), nine)  # 09:00 CET = 08:00Z
    between = kinds.DateTimeBetween(type="x", after="2025-01-05T00:00:00+01:00", before="2025-01-07T00:00:00")
    assert check(between, nine) and not check(between, fire(8))


def test_expression_not_or_and_a_rendered_date() -> None:
    f = fire(6)
    expression = kinds.Expression(type="x", expression="{{ trigger.date | date('EEEE') == 'Monday' }}")
    assert check(expression, f)
    assert not check(kinds.Not(type="x", conditions=[expression]), f)
    weekend = kinds.Weekend(type="x")
    assert check(kinds.Or(type="x", conditions=[weekend, expression]), f)
    assert not all_pass([weekend, expression], f, ctx(f), RENDER)
    rendered = kinds.DayWeek(type="x", date="{{ trigger.date | dateAdd(1, 'DAYS') }}", day_of_week="TUESDAY")
    assert check(rendered, f)


def test_unsupported_types_and_bad_dates_say_what_to_do() -> None:
    with pytest.raises(ConditionError, match="cannot be used on a schedule"):
        check(kinds.ExecutionFlow(type="io.kestra.plugin.core.condition.ExecutionFlow", namespace="a",
                                  flow_id="b"), fire(6))
    with pytest.raises(ConditionError, match="not an ISO-8601"):
        check(kinds.DayWeek(type="x", date="tomorrow", day_of_week="MONDAY"), fire(6))
