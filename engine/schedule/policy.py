"""L1 pure core: what a Schedule or ScheduleOnDates trigger fires at ``now``.

The trigger's state holds ``next_date``: the earliest date not dealt with yet. When it has come,
:func:`decide` looks at the *due* dates (``next_date <= date <= now``) and returns at most one
date to fire plus the new ``next_date``:

* dates later than ``lateMaximumDelay`` (``date < now - delay``) are skipped;
* dates whose conditions fail are skipped (the conditions filter the sequence of dates);
* ``recoverMissedSchedules`` picks among the rest: ``ALL`` the oldest (the others stay due and
  fire on later ticks), ``LAST`` only the newest, ``NONE`` only a date that is *on time*
  (at most ``on_time`` old; older dates were missed while no beat ran, and are skipped).

At most one date per decision: Kestra's no-overlap rule means the execution just created blocks
the trigger until it ends, so firing several dates at once would break it. Scans are bounded
(``max_scan`` dates per decision), so a per-second cron after a week of downtime never stalls a
tick: the decision then fires nothing and moves ``next_date`` forward to continue next tick.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from engine.plugins.core.triggers import RecoverMissedSchedules
from engine.schedule.conditions import parse_moment
from engine.schedule.cron import CronNeverFires, FireTime

Accept = Callable[[FireTime], bool]
_TICK = timedelta(microseconds=1)


class DateSequence(Protocol):
    """CronSchedule and DateList: fire dates on a time line."""

    def next_after(self, moment: datetime) -> FireTime | None: ...

    def previous_before(self, moment: datetime) -> FireTime | None: ...


@dataclass(frozen=True)
class Policy:
    """How a trigger treats due dates (see the module docstring)."""

    recover: RecoverMissedSchedules = RecoverMissedSchedules.ALL
    late_maximum_delay: timedelta | None = None
    # A date this recent is on time, not missed: beats tick every fraction of a second, so a
    # minute leaves room for a slow tick or a leader takeover without calling the date missed.
    on_time: timedelta = timedelta(seconds=60)
    max_scan: int = 1000


@dataclass(frozen=True)
class Decision:
    """The date to fire now (or None), its neighbours, and where the trigger stands next."""

    fire: FireTime | None
    previous: FireTime | None
    next: FireTime | None
    next_date: datetime | None
    skipped: int = 0

    def variables(self) -> dict[str, str]:
        """The execution's ``trigger`` variables: ISO dates in the trigger's zone, as Kestra."""
        found: dict[str, str] = {}
        for name, value in (("date", self.fire), ("next", self.next), ("previous", self.previous)):
            if value is not None:
                found[name] = value.iso
        return found


def first_date(dates: DateSequence, now: datetime) -> datetime | None:
    """``next_date`` of a trigger deployed at ``now``: its first date after now."""
    found = _safe_next(dates, now)
    return found.at if found else None


def decide(dates: DateSequence, next_date: datetime, now: datetime, policy: Policy,
           accept: Accept = lambda fire: True) -> Decision:
    """The date (at most one) to fire at ``now`` for a trigger whose next date is ``next_date``."""
    if next_date > now:
        return Decision(None, None, None, next_date)
    if policy.recover == RecoverMissedSchedules.LAST:
        return _decide_last(dates, next_date, now, policy, accept)
    start = next_date
    if policy.late_maximum_delay is not None:
        start = max(start, now - policy.late_maximum_delay)
    if policy.recover == RecoverMissedSchedules.NONE:
        start = max(start, now - policy.on_time)
    return _decide_oldest(dates, next_date, start, now, policy, accept)


def _decide_oldest(dates: DateSequence, next_date: datetime, start: datetime, now: datetime,
                   policy: Policy, accept: Accept) -> Decision:
    """ALL and NONE: the oldest acceptable date in ``[start, now]``; earlier ones are skipped."""
    skipped = 0 if start == next_date else _count_between(dates, next_date, start, policy.max_scan)
    candidate = _safe_next(dates, start - _TICK)
    for _ in range(policy.max_scan):
        if candidate is None or candidate.at > now:
            return Decision(None, None, None, candidate.at if candidate else None, skipped)
        if accept(candidate):
            return _fired(dates, candidate, skipped)
        skipped += 1
        candidate = _safe_next(dates, candidate.at)
    # Scan budget spent on rejected dates: resume from here next tick.
    return Decision(None, None, None, candidate.at if candidate else None, skipped)


def _decide_last(dates: DateSequence, next_date: datetime, now: datetime, policy: Policy,
                 accept: Accept) -> Decision:
    """LAST: only the newest acceptable due date, if it is not too late; the rest is skipped."""
    upcoming = _safe_next(dates, now)
    resume_at = upcoming.at if upcoming else None
    candidate = dates.previous_before(now + _TICK)
    skipped = 0
    for _ in range(policy.max_scan):
        if candidate is None or candidate.at < next_date:
            return Decision(None, None, None, resume_at, skipped)
        too_late = policy.late_maximum_delay is not None and \
            candidate.at < now - policy.late_maximum_delay
        if too_late:
            return Decision(None, None, None, resume_at, skipped + 1)
        if accept(candidate):
            fired = _fired(dates, candidate, 0)
            return Decision(fired.fire, fired.previous, fired.next, resume_at, skipped)
        skipped += 1
        candidate = dates.previous_before(candidate.at)
    return Decision(None, None, None, resume_at, skipped)


def _fired(dates: DateSequence, fire: FireTime, skipped: int) -> Decision:
    following = _safe_next(dates, fire.at)
    return Decision(fire, dates.previous_before(fire.at), following,
                    following.at if following else None, skipped)


def _count_between(dates: DateSequence, start: datetime, end: datetime, limit: int) -> int:
    """How many dates in ``[start, end)`` (at most ``limit``: it only feeds a log line)."""
    count, current = 0, _safe_next(dates, start - _TICK)
    while current is not None and current.at < end and count < limit:
        count, current = count + 1, _safe_next(dates, current.at)
    return count


def _safe_next(dates: DateSequence, moment: datetime) -> FireTime | None:
    try:
        return dates.next_after(moment)
    except CronNeverFires:
        return None


class DateList:
    """ScheduleOnDates' dates as a sequence: each fires once, in order, in its time zone."""

    def __init__(self, fires: Iterable[FireTime]) -> None:
        self.fires = sorted({fire.at: fire for fire in fires}.values(), key=lambda fire: fire.at)

    @classmethod
    def parse(cls, values: Iterable[str | datetime], zone: tzinfo) -> DateList:
        """ISO-8601 date-times; one without an offset is read in ``zone``."""
        fires = []
        for value in values:
            moment = value if isinstance(value, datetime) else \
                parse_moment(str(value), zone, what=f"date '{value}' of ScheduleOnDates")
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            fires.append(FireTime(at=moment.astimezone(UTC), local=moment.astimezone(zone)))
        return cls(fires)

    def next_after(self, moment: datetime) -> FireTime | None:
        return next((fire for fire in self.fires if fire.at > moment), None)

    def previous_before(self, moment: datetime) -> FireTime | None:
        return next((fire for fire in reversed(self.fires) if fire.at < moment), None)

