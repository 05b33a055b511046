"""L1 pure core: a backfill is a cursor walked over a Schedule's past fire times.

A backfill replays a ``Schedule`` trigger between ``start`` and ``end`` (both inclusive), one
execution per fire time. Its whole state is a :class:`BackfillCursor`, stored as JSON in the
trigger's state (``TriggerState.backfill``); beat moves it with :func:`advance`, a bounded number
of fire times per tick (Dagster's ``max_catchup_runs``), so a ten-year backfill never blocks a
tick and a restart continues where the last saved cursor stands.

No clock is read and nothing is stored here: the services layer (engine/services/backfill_runs.py)
claims each fire time, creates the executions and saves the cursor in one transaction.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from pydantic import Field

from engine.model.execution import Record
from engine.schedule.cron import CronSchedule, FireTime, zone_of

# Counting the fire times of a huge backfill (every minute for ten years) would stall the
# command that creates it; past this many the total is left unknown (None).
COUNT_LIMIT = 100_000
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
_STEP = timedelta(microseconds=1)  # ``current_date`` moves just past the last fire walked


class BackfillCursor(Record):
    """Where a backfill stands; stored as camelCase JSON (``currentDate`` as Kestra names it).

    ``current_date`` is the earliest instant not walked yet: the fire times left are those with
    ``current_date <= at <= end``. ``created`` counts the executions this backfill made, ``skipped``
    the fire times it found already taken (by the schedule, an earlier backfill, or a success
    when ``only_gaps``); ``total`` is the number of fire times in the window (None if more than
    :data:`COUNT_LIMIT`). ``error`` says why beat paused it (the flow was disabled...).
    """

    start: datetime
    end: datetime
    current_date: datetime
    paused: bool = False
    cancelled: bool = False
    finished: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    only_gaps: bool = False
    total: int | None = None
    created: int = 0
    skipped: int = 0
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def done(self) -> int:
        """Fire times walked so far (an execution created or an existing one kept)."""
        return self.created + self.skipped

    @property
    def active(self) -> bool:
        """Still to be walked by beat: not paused, cancelled or finished."""
        return not (self.paused or self.cancelled or self.finished)

    @property
    def status(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        if self.finished:
            return "FINISHED"
        return "PAUSED" if self.paused else "RUNNING"

    @classmethod
    def load(cls, stored: dict[str, Any]) -> BackfillCursor:
        return cls.model_validate(stored)


def new_cursor(start: datetime, end: datetime, *, total: int | None, now: datetime,
               inputs: dict[str, Any] | None = None, labels: dict[str, str] | None = None,
               only_gaps: bool = False, paused: bool = False) -> BackfillCursor:
    """A cursor at ``start``. Raises ValueError when the window is empty or naive."""
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ValueError(f"backfill {name} {moment.isoformat()} has no time zone")
    if start >= end:
        raise ValueError(f"backfill start {start.isoformat()} is not before end {end.isoformat()}: "
                         "give a start earlier than the end")
    return BackfillCursor(start=start, end=end, current_date=start, paused=paused, inputs=dict(inputs or {}),
                          labels=dict(labels or {}), only_gaps=only_gaps, total=total,
                          created_at=now, updated_at=now)


@dataclass(frozen=True)
class Slot:
    """One fire time to run, with its neighbours (Kestra's ``trigger.previous`` and ``next``)."""

    fire: FireTime
    previous: FireTime | None
    next: FireTime | None

    def variables(self) -> dict[str, str]:
        """The execution's trigger variables: ISO dates in the trigger's zone."""
        found = {"date": self.fire.iso}
        if self.next is not None:
            found["next"] = self.next.iso
        if self.previous is not None:
            found["previous"] = self.previous.iso
        return found


def advance(cursor: BackfillCursor, schedule: CronSchedule, limit: int) -> tuple[list[Slot], BackfillCursor]:
    """The next ``limit`` (at most) fire times of the window and the cursor moved past them.

    A paused, cancelled or finished cursor yields nothing and stays as it is. The cursor is
    ``finished`` once a call finds fewer than ``limit`` fire times left. Counters are the
    caller's to update (it knows which fire times it created and which it skipped).
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if not cursor.active:
        return [], cursor
    ahead = list(islice(schedule.between(cursor.current_date, _END_OF_TIME), limit + 1))
    fires = [fire for fire in ahead[:limit] if fire.at <= cursor.end]
    if not fires:
        return [], cursor.model_copy(update={"current_date": cursor.end + _STEP, "finished": True})
    slots = _slots(schedule, fires, ahead[len(fires)] if len(ahead) > len(fires) else None)
    beyond = len(fires) < limit or len(ahead) <= limit or ahead[limit].at > cursor.end
    return slots, cursor.model_copy(update={"current_date": fires[-1].at + _STEP, "finished": beyond})


def _slots(schedule: CronSchedule, fires: list[FireTime], following: FireTime | None) -> list[Slot]:
    """Each fire with its neighbours; only the first previous and the last next are computed."""
    before: FireTime | None = schedule.previous_before(fires[0].at)
    after = following if following is not None else _next_or_none(schedule, fires[-1].at)
    neighbours = [before, *fires, after]
    return [Slot(fire, neighbours[i], neighbours[i + 2]) for i, fire in enumerate(fires)]


def _next_or_none(schedule: CronSchedule, moment: datetime) -> FireTime | None:
    try:
        return schedule.next_after(moment)
    except ValueError:  # CronNeverFires: no later date exists
        return None


def plan(schedule: CronSchedule, start: datetime, end: datetime,
         limit: int | None = None) -> list[FireTime]:
    """The fire times a backfill over ``[start, end]`` would run (``--dry-run``), oldest first.

    A fire moved or merged by a daylight-saving change carries a ``note`` saying so.
    """
    found: Iterator[FireTime] = schedule.between(start, end)
    return list(islice(found, limit) if limit is not None else found)


def count(schedule: CronSchedule, start: datetime, end: datetime, limit: int = COUNT_LIMIT) -> int | None:
    """How many fire times the window holds, or None if more than ``limit``."""
    found = sum(1 for _ in islice(schedule.between(start, end), limit + 1))
    return found if found <= limit else None


def parse_moment(text: str, zone_name: str, *, what: str = "date") -> datetime:
    """``2024-01-01``, ``2024-01-01T06:00``, ``2024-01-01 06:00:00+02:00`` or ``...Z``.

    A date or time without an offset is a wall-clock time in ``zone_name`` (the trigger's); one that
    does not exist there (a DST gap) moves forward by the gap. Raises ValueError naming the text
    and the accepted forms.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} '{text}' is not an ISO-8601 date: use 2024-01-01, 2024-01-01T06:00 "
                         "or 2024-01-01T06:00:00+02:00 (without an offset, the trigger's time zone "
                         "is used)") from None
    if value.tzinfo is not None:
        return value
    zone = zone_of(zone_name)
    return value.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
