"""The pure backfill cursor: bounded steps, pause and resume, DST days, dates from the CLI."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from engine.schedule.backfill_cursor import BackfillCursor, advance, count, new_cursor, parse_moment, plan
from engine.schedule.cron import CronSchedule

UTC = UTC
NOW = datetime(2024, 6, 1, tzinfo=UTC)
DAILY = CronSchedule("0 0 * * *")


def _cursor(start: datetime, end: datetime, **options: object) -> BackfillCursor:
    return new_cursor(start, end, total=None, now=NOW, **options)  # type: ignore[arg-type]


def _walk(cursor: BackfillCursor, schedule: CronSchedule, limit: int) -> tuple[list[datetime], int]:
    """Every fire time, walking ``limit`` at a time; returns them and the number of calls."""
    seen: list[datetime] = []
    calls = 0
    while cursor.active:
        slots, cursor = advance(cursor, schedule, limit)
        assert len(slots) <= limit
        seen += [slot.fire.at for slot in slots]
        calls += 1
    return seen, calls


def test_walks_every_fire_time_once_in_bounded_steps() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 30, tzinfo=UTC))
    seen, calls = _walk(cursor, DAILY, 7)
    assert seen == [datetime(2024, 1, day, tzinfo=UTC) for day in range(1, 31)]
    assert calls == 5  # 7 + 7 + 7 + 7 + 2: the short step tells the window is done


def test_a_window_ending_exactly_on_a_step_boundary_finishes_without_an_empty_step() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC))
    seen, calls = _walk(cursor, DAILY, 5)
    assert len(seen) == 10 and calls == 2


def test_start_and_end_are_inclusive_and_mid_slot_bounds_are_honoured() -> None:
    hourly = CronSchedule("0 * * * *")
    cursor = _cursor(datetime(2024, 1, 1, 0, 30, tzinfo=UTC), datetime(2024, 1, 1, 3, 0, tzinfo=UTC))
    seen, _ = _walk(cursor, hourly, 100)
    assert [moment.hour for moment in seen] == [1, 2, 3]


def test_slots_carry_previous_and_next_across_step_boundaries() -> None:
    cursor = _cursor(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC))
    first, cursor = advance(cursor, DAILY, 2)
    second, cursor = advance(cursor, DAILY, 2)
    slots = first + second
    assert [slot.variables() for slot in slots][0] == {
        "date": "2024-01-02T00:00:00+00:00", "previous": "2024-01-01T00:00:00+00:00",
        "next": "2024-01-03T00:00:00+00:00"}
    for before, after in pairwise(slots):
        assert before.next == after.fire and after.previous == before.fire
    assert slots[-1].next is not None and slots[-1].next.at == datetime(2024, 1, 6, tzinfo=UTC)


def test_pause_stops_the_walk_and_resume_continues_where_it_stood() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC))
    first, cursor = advance(cursor, DAILY, 4)
    paused = cursor.model_copy(update={"paused": True})
    assert advance(paused, DAILY, 4) == ([], paused)
    resumed = BackfillCursor.load(paused.model_copy(update={"paused": False}).to_json())
    rest, _ = _walk(resumed, DAILY, 4)
    assert [slot.fire.at.day for slot in first] + [moment.day for moment in rest] == list(range(1, 11))


def test_cancelled_and_finished_cursors_yield_nothing() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
    cancelled = cursor.model_copy(update={"cancelled": True})
    assert advance(cancelled, DAILY, 10) == ([], cancelled)
    assert cancelled.status == "CANCELLED"
    _, finished = advance(cursor, DAILY, 10)
    assert finished.finished and finished.status == "FINISHED"
    assert advance(finished, DAILY, 10)[0] == []


def test_the_cursor_round_trips_through_json_with_kestra_names() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC),
                     inputs={"taxi": "green"}, labels={"team": "data"}, only_gaps=True)
    stored = cursor.to_json()
    assert stored["currentDate"] == "2024-01-01T00:00:00Z" and stored["onlyGaps"] is True
    assert BackfillCursor.load(stored) == cursor


def test_new_cursor_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="not before end"):
        _cursor(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="not before end"):
        _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))


def test_advance_refuses_a_zero_limit() -> None:
    cursor = _cursor(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
    with pytest.raises(ValueError, match="at least 1"):
        advance(cursor, DAILY, 0)


# -- DST days in America/New_York -------------------------------------------------------------

NEW_YORK = "America/New_York"


def test_spring_forward_day_fires_the_missing_slot_once_after_the_gap_and_marks_it() -> None:
    schedule = CronSchedule("30 2 * * *", NEW_YORK)
    start = parse_moment("2025-03-08", NEW_YORK)
    end = parse_moment("2025-03-10T23:00", NEW_YORK)
    fires = plan(schedule, start, end)
    assert [fire.local.strftime("%d %H:%M") for fire in fires] == ["08 02:30", "09 03:00", "10 02:30"]
    assert [fire.note is not None for fire in fires] == [False, True, False]
    assert "does not exist on 2025-03-09" in str(fires[1].note)


def test_fall_back_day_fires_the_repeated_slot_once_and_marks_it() -> None:
    schedule = CronSchedule("30 1 * * *", NEW_YORK)
    fires = plan(schedule, parse_moment("2025-11-01", NEW_YORK), parse_moment("2025-11-03T12:00", NEW_YORK))
    assert [fire.local.strftime("%d %H:%M %Z") for fire in fires] == [
        "01 01:30 EDT", "02 01:30 EDT", "03 01:30 EST"]
    assert [fire.note is not None for fire in fires] == [False, True, False]


def test_hourly_walk_over_both_dst_days_counts_real_hours() -> None:
    """23 fires on the short day, 24 (not 25) on the long one: each wall-clock slot once."""
    schedule = CronSchedule("0 * * * *", NEW_YORK)
    for day, expected in (("2025-03-09", 23), ("2025-11-02", 24)):
        start = parse_moment(day, NEW_YORK)
        end = parse_moment(f"{day}T23:59", NEW_YORK)
        cursor = _cursor(start, end)
        seen, _ = _walk(cursor, schedule, 5)
        assert len(seen) == expected == count(schedule, start, end)
        assert seen == sorted(set(seen))


def test_count_gives_up_past_its_limit() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 31, tzinfo=UTC)
    assert count(DAILY, start, end, limit=31) == 31
    assert count(DAILY, start, end, limit=30) is None


# -- dates given on the command line ----------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-01", datetime(2024, 1, 1, 5, tzinfo=UTC)),
    ("2024-01-01T06:00", datetime(2024, 1, 1, 11, tzinfo=UTC)),
    ("2024-07-01 06:00:00", datetime(2024, 7, 1, 10, tzinfo=UTC)),
    ("2024-01-01T06:00:00+02:00", datetime(2024, 1, 1, 4, tzinfo=UTC)),
    ("2024-01-01T06:00:00Z", datetime(2024, 1, 1, 6, tzinfo=UTC)),
])
def test_parse_moment_reads_dates_in_the_trigger_zone_unless_an_offset_is_given(
        text: str, expected: datetime) -> None:
    assert parse_moment(text, NEW_YORK) == expected


def test_parse_moment_moves_a_time_in_a_dst_gap_forward() -> None:
    assert parse_moment("2025-03-09T02:30", NEW_YORK) == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)


def test_parse_moment_names_the_bad_text_and_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="start '2024-13-01' is not an ISO-8601 date: use 2024-01-01"):
        parse_moment("2024-13-01", "UTC", what="start")


def test_a_ten_year_daily_plan_is_walked_in_bounded_steps() -> None:
    start, end = datetime(2014, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC)
    cursor = _cursor(start, end)
    seen, calls = _walk(cursor, DAILY, 500)
    assert len(seen) == count(DAILY, start, end) == 3652
    assert calls == 8
    assert seen[-1] - seen[0] == timedelta(days=3651)
