"""decide(): recoverMissedSchedules ALL / LAST / NONE, lateMaximumDelay, conditions, DateList."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.plugins.core.triggers import RecoverMissedSchedules as Recover
from engine.schedule import CronSchedule, FireTime
from engine.schedule.policy import DateList, Policy, decide, first_date

UTC = UTC
DAILY = CronSchedule("0 9 * * *", "Europe/Paris")  # 08:00Z in winter


def d(day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=UTC)


def drain(policy: Policy, next_date: datetime, now: datetime) -> list[datetime]:
    """What a beat with no overlap fires at ``now`` when each execution ends at once."""
    fired: list[datetime] = []
    while True:
        decision = decide(DAILY, next_date, now, policy)
        if decision.fire is not None:
            fired.append(decision.fire.at)
        if decision.next_date is None or decision.fire is None:
            return fired
        next_date = decision.next_date


def test_not_due_yet_changes_nothing() -> None:
    decision = decide(DAILY, d(2), d(1, 12), Policy())
    assert decision.fire is None and decision.next_date == d(2)


def test_on_time_date_fires_with_its_neighbours() -> None:
    decision = decide(DAILY, d(2), d(2, 8, 0) + timedelta(milliseconds=200), Policy())
    assert decision.fire is not None and decision.fire.at == d(2)
    assert decision.next_date == d(3)
    assert decision.variables() == {"date": "2025-01-02T09:00:00+01:00",
                                    "next": "2025-01-03T09:00:00+01:00",
                                    "previous": "2025-01-01T09:00:00+01:00"}


@pytest.mark.parametrize(("recover", "expected"), [
    (Recover.ALL, [d(2), d(3), d(4), d(5)]),
    (Recover.LAST, [d(5)]),
    (Recover.NONE, []),
])
def test_three_days_of_downtime(recover: Recover, expected: list[datetime]) -> None:
    """Down from the 2nd 07:00 to the 5th 10:00: dates of the 2nd..5th were missed."""
    assert drain(Policy(recover=recover), d(2), d(5, 9)) == expected
    final = decide(DAILY, d(2), d(5, 9), Policy(recover=recover))
    if recover == Recover.ALL:
        assert final.next_date == d(3)  # the rest stays due: one execution at a time
    else:
        assert final.next_date == d(6)


def test_none_still_fires_a_date_that_is_on_time() -> None:
    assert drain(Policy(recover=Recover.NONE), d(2), d(2, 8, 0) + timedelta(seconds=30)) == [d(2)]
    assert drain(Policy(recover=Recover.NONE), d(2), d(2, 8, 2)) == []


def test_late_maximum_delay_skips_dates_older_than_the_delay() -> None:
    policy = Policy(late_maximum_delay=timedelta(hours=30))
    assert drain(policy, d(2), d(5, 9)) == [d(4), d(5)]  # the 2nd and 3rd are more than 30 h late
    decision = decide(DAILY, d(2), d(5, 9), policy)
    assert decision.skipped == 2
    late_last = Policy(recover=Recover.LAST, late_maximum_delay=timedelta(minutes=30))
    skipped = decide(DAILY, d(2), d(5, 9), late_last)
    assert skipped.fire is None and skipped.next_date == d(6)


def test_conditions_filter_the_dates() -> None:
    def weekdays_only(fire: FireTime) -> bool:
        return fire.local.weekday() < 5

    fired: list[datetime] = []
    next_date: datetime | None = d(3)
    while next_date is not None and next_date <= d(7, 9):
        decision = decide(DAILY, next_date, d(7, 9), Policy(), weekdays_only)
        if decision.fire is not None:
            fired.append(decision.fire.at)
        next_date = decision.next_date
    assert fired == [d(3), d(6), d(7)]  # 2025-01-04/05 (Saturday, Sunday) skipped
    weekend = decide(DAILY, d(4), d(5, 9), Policy(), weekdays_only)
    assert weekend.fire is None and weekend.next_date == d(6) and weekend.skipped == 2
    last = decide(DAILY, d(2), d(5, 9), Policy(recover=Recover.LAST), weekdays_only)
    assert last.fire is not None and last.fire.at == d(3)  # the newest date that passes
    assert last.next_date == d(6)


def test_the_scan_is_bounded() -> None:
    every_second = CronSchedule("* * * * * *", with_seconds=True)

    def never(fire: FireTime) -> bool:
        return False

    decision = decide(every_second, d(1, 0), d(8, 0), Policy(max_scan=50), never)
    assert decision.fire is None and decision.skipped == 50
    assert decision.next_date == d(1, 0) + timedelta(seconds=50)


def test_schedule_on_dates() -> None:
    paris = ZoneInfo("Europe/Paris")
    dates = DateList.parse(["2025-01-02T10:00:00", "2025-01-01T10:00:00+01:00", "2025-01-03T09:00:00Z"], paris)
    assert [f.at for f in dates.fires] == [d(1, 9), d(2, 9), d(3, 9)]
    assert first_date(dates, d(1, 12)) == d(2, 9)
    decision = decide(dates, d(2, 9), d(3, 10), Policy())
    assert decision.fire is not None and decision.fire.iso == "2025-01-02T10:00:00+01:00"
    assert decision.next_date == d(3, 9)
    done = decide(dates, d(3, 9), d(3, 10), Policy())
    assert done.fire is not None and done.next_date is None  # no more dates: never due again
    assert isinstance(done.previous, FireTime)
