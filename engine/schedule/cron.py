"""L1 pure core: cron fire times in a time zone, with explicit daylight-saving rules.

A cron expression names *wall-clock* times ("09:00 every day"). Mapping them to instants is
ambiguous twice a year in zones with daylight saving time; Podium's rules:

* **Skipped local time** (spring forward, e.g. 02:30 on 2025-03-09 in America/New_York does not
  exist): the slot fires **once**, at the first valid instant after the gap (03:00 local), the
  way Vixie cron runs jobs of a skipped hour right after the change. When that instant is also a
  regular slot (``0 * * * *`` at 03:00), both are the same fire: one execution.
* **Repeated local time** (fall back, e.g. 01:30 happens twice on 2025-11-02 in New York): the
  slot fires **once**, at the first occurrence (the daylight-time one).
* A schedule whose slots avoid the gap and the repeated hour is unaffected.

Each :class:`FireTime` carries a ``note`` when one of these rules changed it, so ``podium
triggers list`` can say so. No clock is read here: every method takes the moment as argument.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from engine.plugins.core.triggers import check_cron

if TYPE_CHECKING:
    from engine.plugins.core.triggers import Schedule

# Kestra's nicknames; spelled out so that croniter's own (slightly different) set never matters.
NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
             "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
             "@hourly": "0 * * * *"}
_OFFSET = re.compile(r"^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
# Wider than any daylight-saving shift in the tz database (2 h), so a backward search that starts
# this far past a moment sees every slot that could map to an instant before it.
_MAX_SHIFT = timedelta(hours=3)


class CronNeverFires(ValueError):
    """The expression names no real date (``0 0 30 2 *``): there is no next or previous fire."""


@dataclass(frozen=True)
class FireTime:
    """One fire: ``at`` is the instant (UTC), ``local`` the same instant in the trigger's zone."""

    at: datetime
    local: datetime
    note: str | None = None

    @property
    def iso(self) -> str:
        """ISO-8601 in the trigger's zone with its offset, as Kestra's ``trigger.date``."""
        return self.local.isoformat()


def zone_of(name: str | None) -> tzinfo:
    """An IANA zone, ``UTC``/``Z``, or a fixed offset (``+02:00``, ``UTC+2``, ``GMT-05:30``)."""
    text = (name or "UTC").strip()
    if text in ("Z", "UTC", "GMT", "UT"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}': use an IANA name such as Europe/Paris, "
                         "UTC, or an offset such as +02:00") from None


class CronSchedule:
    """A cron expression in a time zone: next, previous and windows of :class:`FireTime`.

    Args:
        cron: 5 fields (minute hour day-of-month month day-of-week), 6 with ``with_seconds``
            (seconds first), or a nickname (``@daily``...). Day of week 0-7, 0 and 7 = Sunday.
        timezone: IANA zone or fixed offset; wall-clock slots are read in it.
        with_seconds: the expression has a leading seconds field.

    Raises:
        ValueError: the expression or the zone is invalid (the message says how to fix it).
    """

    def __init__(self, cron: str, timezone: str = "UTC", with_seconds: bool = False) -> None:
        check_cron(cron, with_seconds)
        self.cron = cron
        self.timezone = timezone
        self.with_seconds = with_seconds
        self.zone = zone_of(timezone)
        self._expression = NICKNAMES.get(cron.strip(), cron.strip())

    def __repr__(self) -> str:
        return f"CronSchedule({self.cron!r}, {self.timezone!r}, with_seconds={self.with_seconds})"

    def next_after(self, moment: datetime) -> FireTime:
        """The first fire strictly after ``moment`` (tz-aware)."""
        return next(self._forward(moment))

    def previous_before(self, moment: datetime) -> FireTime | None:
        """The last fire strictly before ``moment``, or None if the expression never fired."""
        walls = self._walls(self._wall(moment) + _MAX_SHIFT, forward=False)
        group: list[datetime] = []
        for wall in walls:
            instant = self._instant(wall)
            if group and instant != self._instant(group[0]):
                break
            if instant < moment:
                group.insert(0, wall)
        return self._fire(group) if group else None

    def between(self, start: datetime, end: datetime) -> Iterator[FireTime]:
        """Fires with ``start <= at <= end``, oldest first (lazy: any window size is fine)."""
        for fire in self._forward(start - timedelta(microseconds=1)):
            if fire.at > end:
                return
            yield fire

    # -- internals -------------------------------------------------------------------------------

    def _forward(self, moment: datetime) -> Iterator[FireTime]:
        """Fires strictly after ``moment``. Slots mapping to one instant (a gap) are one fire."""
        _require_aware(moment)
        group: list[datetime] = []
        head: datetime | None = None  # the instant of group[0]
        for wall in self._walls(self._wall(moment), forward=True):
            instant = self._instant(wall)
            if instant <= moment:
                continue  # the second pass of a repeated hour: those slots already fired
            if group and instant != head:
                yield self._fire(group, head)
                group = []
            group.append(wall)
            head = head if len(group) > 1 else instant
        if group:
            yield self._fire(group, head)

    def _walls(self, start: datetime, *, forward: bool) -> Iterator[datetime]:
        """Naive wall-clock slots strictly after (or before) ``start``."""
        walker = croniter(self._expression, start, second_at_beginning=self.with_seconds)
        step = walker.get_next if forward else walker.get_prev
        while True:
            try:
                yield step(datetime)
            except CroniterBadDateError:
                if forward:
                    raise CronNeverFires(f"cron '{self.cron}' names no real date (for example "
                                         "30 February); fix the day-of-month or month field") from None
                return

    def _wall(self, moment: datetime) -> datetime:
        _require_aware(moment)
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _instant(self, wall: datetime) -> datetime:
        """The UTC instant of a wall-clock slot under the DST rules of the module docstring."""
        first = wall.replace(tzinfo=self.zone, fold=0)
        if _round_trips(first):
            return first.astimezone(UTC)  # fold=0: the first of a repeated time
        return self._gap_end(wall)

    def _gap_end(self, wall: datetime) -> datetime:
        """The first instant whose local time is at or after ``wall`` (which is in a gap)."""
        # fold=1 reads the slot with the offset after the change, fold=0 with the one before:
        # the transition lies between them. Zone changes happen on whole seconds.
        bounds = [int(wall.replace(tzinfo=self.zone, fold=f).timestamp()) for f in (0, 1)]
        low, high = min(bounds), max(bounds)
        while high - low > 1:
            middle = (low + high) // 2
            if self._wall(datetime.fromtimestamp(middle, UTC)) >= wall:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)

    def _fire(self, walls: list[datetime], at: datetime | None = None) -> FireTime:
        at = at or self._instant(walls[0])
        local = at.astimezone(self.zone)
        return FireTime(at=at, local=local, note=self._note(walls[0], local))

    def _note(self, wall: datetime, local: datetime) -> str | None:
        day, clock = wall.date().isoformat(), _clock(wall)
        if local.replace(tzinfo=None) != wall:
            return (f"{clock} does not exist on {day} in {self.timezone} (clocks jump forward); "
                    f"fired once at {_clock(local)}, the first valid time after it")
        if wall.replace(tzinfo=self.zone, fold=1).utcoffset() == local.utcoffset():
            return None
        return (f"{clock} happens twice on {day} in {self.timezone} (clocks go back); "
                f"fired once, at the first occurrence ({local.tzname()})")


def schedule_from_options(options: Schedule, default_zone: str = "UTC") -> CronSchedule:
    """The :class:`CronSchedule` of a ``trigger.Schedule`` (its zone, or ``default_zone``)."""
    zone = options.timezone or default_zone
    if "{{" in zone or "{%" in zone:
        raise ValueError(f"timezone '{zone}' of a Schedule cannot be an expression: "
                         "write the zone name, e.g. Europe/Paris")
    return CronSchedule(options.cron, zone, options.with_seconds)


def _round_trips(value: datetime) -> bool:
    back = value.astimezone(UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) == value.replace(tzinfo=None)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware datetime "
                         "(e.g. datetime(..., tzinfo=timezone.utc))")


def _clock(value: datetime) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")
