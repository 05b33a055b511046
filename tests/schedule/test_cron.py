"""CronSchedule: cron forms and a whole year of fires across both DST changes, counted exactly."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from engine.schedule import CronNeverFires, CronSchedule, FireTime
from engine.schedule.cron import zone_of

UTC = UTC
NY, PARIS = "America/New_York", "Europe/Paris"
# 2025 DST days: New York 03-09 (02:00 -> 03:00) and 11-02 (02:00 -> 01:00);
# Paris 03-30 (02:00 -> 03:00) and 10-26 (03:00 -> 02:00).
SPRING = {NY: "2025-03-09", PARIS: "2025-03-30"}
FALL = {NY: "2025-11-02", PARIS: "2025-10-26"}


def year(cron: str, zone: str) -> list[FireTime]:
    """The fires of local calendar year 2025 (half-open: 2026-01-01 00:00 local excluded)."""
    tz = ZoneInfo(zone)
    start = datetime(2025, 1, 1, tzinfo=tz)
    end = datetime(2026, 1, 1, tzinfo=tz) - timedelta(microseconds=1)
    return list(CronSchedule(cron, zone).between(start, end))


def by_day(fires: list[FireTime]) -> dict[str, list[FireTime]]:
    days: dict[str, list[FireTime]] = {}
    for fire in fires:
        days.setdefault(fire.local.date().isoformat(), []).append(fire)
    return days


@pytest.mark.parametrize("zone", [NY, PARIS])
def test_daily_in_the_gap_fires_365_times_once_at_the_end_of_the_gap(zone: str) -> None:
    fires = year("30 2 * * *", zone)
    assert len(fires) == 365 and len({f.at for f in fires}) == 365
    days = by_day(fires)
    assert all(len(found) == 1 for found in days.values())
    spring = days[SPRING[zone]][0]
    assert spring.local.strftime("%H:%M") == "03:00"
    assert spring.note is not None and "does not exist" in spring.note and "03:00" in spring.note
    others = [f for f in fires if f.local.date().isoformat() != SPRING[zone]]
    assert {f.local.strftime("%H:%M") for f in others} == {"02:30"}


def test_repeated_half_hour_fires_once_at_the_first_occurrence() -> None:
    paris = by_day(year("30 2 * * *", PARIS))[FALL[PARIS]]
    assert len(paris) == 1
    assert paris[0].at == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST, not CET
    assert paris[0].note is not None and "happens twice" in paris[0].note
    new_york = by_day(year("30 1 * * *", NY))[FALL[NY]]
    assert [f.at for f in new_york] == [datetime(2025, 11, 2, 5, 30, tzinfo=UTC)]  # 01:30 EDT
    # 02:30 is not repeated in New York (01:00-02:00 is): no note there.
    assert by_day(year("30 2 * * *", NY))[FALL[NY]][0].note is None


@pytest.mark.parametrize("zone", [NY, PARIS])
def test_daily_at_nine_is_unaffected_by_dst(zone: str) -> None:
    fires = year("0 9 * * *", zone)
    assert len(fires) == 365
    assert {f.local.strftime("%H:%M") for f in fires} == {"09:00"}
    assert all(f.note is None for f in fires)
    offsets = Counter(int(f.local.utcoffset().total_seconds() // 3600)  # type: ignore[union-attr] - zoned: never None
                      for f in fires)
    # Days in daylight time in 2025, counted from the calendar.
    summer = {NY: 238, PARIS: 210}[zone]
    standard = {NY: -5, PARIS: 1}[zone]
    assert offsets == {standard + 1: summer, standard: 365 - summer}


@pytest.mark.parametrize("zone", [NY, PARIS])
def test_hourly_for_a_year_is_8759_fires(zone: str) -> None:
    """8760 wall-clock hours; the skipped hour merges with 03:00 (-1); the repeated hour fires
    once (the 25-hour day has 24 fires, the 23-hour day 23)."""
    fires = year("0 * * * *", zone)
    assert len(fires) == 8759
    assert all(a.at < b.at for a, b in pairwise(fires))
    days = by_day(fires)
    assert len(days[SPRING[zone]]) == 23 and len(days[FALL[zone]]) == 24
    assert {len(found) for day, found in days.items() if day not in (SPRING[zone], FALL[zone])} == {24}
    gaps = Counter(b.at - a.at for a, b in pairwise(fires))
    # One 2-hour gap after the repeated hour's first pass; all the rest one hour apart.
    assert gaps == {timedelta(hours=1): 8757, timedelta(hours=2): 1}
    notes = [f for f in fires if f.note]
    assert len(notes) == 2
    assert notes[0].local.strftime("%H:%M") == "03:00" and "does not exist" in (notes[0].note or "")
    assert "happens twice" in (notes[1].note or "")


def test_quarter_hours_in_the_gap_are_one_fire() -> None:
    tz = ZoneInfo(NY)
    day = list(CronSchedule("*/15 * * * *", NY).between(
        datetime(2025, 3, 9, tzinfo=tz), datetime(2025, 3, 10, tzinfo=tz) - timedelta(seconds=1)))
    assert len(day) == 24 * 4 - 4  # 02:00, 02:15, 02:30, 02:45 and 03:00 are one fire
    at_three = [f for f in day if f.local.hour == 3 and f.local.minute == 0]
    assert len(at_three) == 1 and "02:00 does not exist" in (at_three[0].note or "")


@pytest.mark.parametrize("zone", [NY, PARIS])
def test_previous_before_walks_the_same_fires_backwards(zone: str) -> None:
    """Two weeks around each DST change, hour by hour, backwards = forwards reversed."""
    for change in (SPRING[zone], FALL[zone]):
        middle = datetime.fromisoformat(change).replace(tzinfo=ZoneInfo(zone))
        _check_backwards(CronSchedule("0 * * * *", zone), middle - timedelta(days=7), middle + timedelta(days=7))


def _check_backwards(schedule: CronSchedule, start: datetime, end: datetime) -> None:
    forward = list(schedule.between(start, end))
    backward: list[FireTime] = []
    moment = forward[-1].at + timedelta(seconds=1)
    while len(backward) < len(forward):
        found = schedule.previous_before(moment)
        assert found is not None
        backward.append(found)
        moment = found.at
    assert backward[::-1] == forward


def test_next_after_is_strict_and_inside_the_repeated_hour() -> None:
    schedule = CronSchedule("*/30 * * * *", NY)
    at = schedule.next_after(datetime(2025, 11, 2, 5, 0, tzinfo=UTC))  # 01:00 EDT
    assert at.at == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    # 06:10Z is 01:10 EST (the second pass): its slots already fired, next is 02:00 EST.
    assert schedule.next_after(datetime(2025, 11, 2, 6, 10, tzinfo=UTC)).at == \
        datetime(2025, 11, 2, 7, 0, tzinfo=UTC)
    previous = schedule.previous_before(datetime(2025, 11, 2, 6, 10, tzinfo=UTC))
    assert previous is not None and previous.at == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(("cron", "expected"), [
    ("@yearly", datetime(2026, 1, 1)), ("@annually", datetime(2026, 1, 1)),
    ("@monthly", datetime(2025, 2, 1)), ("@weekly", datetime(2025, 1, 5)),
    ("@daily", datetime(2025, 1, 2)), ("@midnight", datetime(2025, 1, 2)),
    ("@hourly", datetime(2025, 1, 1, 1)), ("0 9 * * 7", datetime(2025, 1, 5, 9)),
    ("0 9 * * 0", datetime(2025, 1, 5, 9)), ("0 9 * * MON", datetime(2025, 1, 6, 9)),
])
def test_cron_forms(cron: str, expected: datetime) -> None:
    fire = CronSchedule(cron).next_after(datetime(2025, 1, 1, tzinfo=UTC))
    assert fire.at == expected.replace(tzinfo=UTC)


def test_six_fields_with_seconds_and_fixed_offsets() -> None:
    schedule = CronSchedule("*/20 * * * * *", "+02:00", with_seconds=True)
    fires = list(schedule.between(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 1, tzinfo=UTC)))
    assert [f.at.second for f in fires] == [0, 20, 40, 0]
    assert fires[0].iso == "2025-01-01T02:00:00+02:00"
    assert zone_of("UTC-05:30").utcoffset(None) == -timedelta(hours=5, minutes=30)


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="needs 5 fields"):
        CronSchedule("0 9 * *")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        CronSchedule("0 9 * * *", "Mars/Olympus")
    with pytest.raises(ValueError, match="has no time zone"):
        CronSchedule("0 9 * * *").next_after(datetime(2025, 1, 1))
    with pytest.raises(CronNeverFires, match="names no real date"):
        CronSchedule("0 0 30 2 *").next_after(datetime(2025, 1, 1, tzinfo=UTC))
    assert CronSchedule("0 0 30 2 *").previous_before(datetime(2025, 1, 1, tzinfo=UTC)) is None
