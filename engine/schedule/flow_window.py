"""L1 pure core: the time windows of multi-flow Flow triggers (Kestra's ``MultipleConditionWindow``).

A window collects, for one trigger and one condition id, the names of the conditions met so
far; the trigger fires once every name is in. Window kinds (Kestra's ``TimeWindow``), all in UTC:

* ``DURATION_WINDOW`` (default, ``window`` P1D): consecutive windows of ``window`` aligned on
  midnight shifted by ``windowAdvance``; an event counts in the window holding it;
* ``SLIDING_WINDOW``: opened by the first event that meets a condition, for ``window``;
* ``DAILY_TIME_DEADLINE``: from midnight to ``deadline`` each day; later events do not count;
* ``DAILY_TIME_WINDOW``: from ``startTime`` to ``endTime`` each day; events outside do not count.

``resetOnSuccess`` (default true) empties the window when the trigger fires; with false the
full window stays and every later event that meets one of its conditions fires again.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from engine.durations import parse_duration
from engine.plugins.core.conditions import MultipleCondition
from engine.plugins.core.triggers import Preconditions, TimeWindow, TimeWindowType

DEFAULT_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class WindowSpec:
    """What a window needs: the named conditions and how time cuts it."""

    condition_id: str
    conditions: Mapping[str, Any]
    kind: TimeWindowType = TimeWindowType.DURATION_WINDOW
    window: timedelta = DEFAULT_WINDOW
    advance: timedelta = timedelta(0)
    start_time: time | None = None
    end_time: time | None = None
    reset_on_success: bool = True


@dataclass(frozen=True)
class Window:
    """A stored window: ``[start, end)`` and the conditions met in it."""

    condition_id: str
    start: datetime
    end: datetime
    met: frozenset[str] = frozenset()
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True)
class WindowPlan:
    """What to do after an event: fire or not, windows to save, windows to delete."""

    fire: bool
    save: tuple[Window, ...] = ()
    delete: tuple[Window, ...] = ()
    outputs: Mapping[str, Any] = field(default_factory=dict)


def legacy_spec(condition: MultipleCondition) -> WindowSpec:
    return WindowSpec(condition.id, dict(condition.conditions), TimeWindowType.DURATION_WINDOW,
                      parse_duration(condition.window),
                      parse_duration(condition.window_advance) if condition.window_advance else timedelta(0),
                      reset_on_success=condition.reset_on_success)


def precondition_spec(preconditions: Preconditions, trigger_id: str) -> WindowSpec:
    """Kestra names the conditions ``condition_N`` (flows first) and ``condition_N_<where id>``."""
    names: dict[str, Any] = {}
    for item in preconditions.flows or []:
        names[f"condition_{len(names) + 1}"] = item
    for where in preconditions.where or []:
        names[f"condition_{len(names) + 1}_{where.id}"] = where
    window = preconditions.time_window or TimeWindow()
    return WindowSpec(preconditions.id or trigger_id, names, window.type,
                      parse_duration(window.window) if window.window else DEFAULT_WINDOW,
                      parse_duration(window.window_advance) if window.window_advance else timedelta(0),
                      _time(window.start_time, "startTime") if window.type == TimeWindowType.DAILY_TIME_WINDOW
                      else None,
                      _time(window.end_time or window.deadline, "endTime or deadline")
                      if window.type != TimeWindowType.DURATION_WINDOW and window.type != TimeWindowType.SLIDING_WINDOW
                      else None,
                      preconditions.reset_on_success)


def _time(text: str | None, what: str) -> time:
    if not text:
        raise ValueError(f"the time window needs {what} (a time of day such as 09:00:00)")
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid {what} '{text}': use a time of day such as 09:00:00") from None
    return parsed


def bounds(spec: WindowSpec, now: datetime) -> tuple[datetime, datetime] | None:
    """The new window an event at ``now`` opens, or None when no window holds ``now``."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if spec.kind == TimeWindowType.SLIDING_WINDOW:
        return now, now + spec.window
    if spec.kind == TimeWindowType.DURATION_WINDOW:
        anchor = midnight + spec.advance
        start = anchor + spec.window * ((now - anchor) // spec.window)
        return start, start + spec.window
    end = _at(midnight, spec.end_time)
    start = midnight if spec.kind == TimeWindowType.DAILY_TIME_DEADLINE else _at(midnight, spec.start_time)
    return (start, end) if start <= now < end else None


def _at(midnight: datetime, moment: time | None) -> datetime:
    assert moment is not None, "a daily window always has its times (checked by precondition_spec)"
    at = datetime.combine(midnight.date(), moment.replace(tzinfo=moment.tzinfo or UTC))
    return at.astimezone(UTC)


def current_or_new(spec: WindowSpec, stored: Window | None, now: datetime) -> Window | None:
    """The stored window if it still holds ``now``, else a fresh one (None: no window now)."""
    if stored is not None and stored.holds(now):
        return stored
    opened = bounds(spec, now)
    return None if opened is None else Window(spec.condition_id, opened[0], opened[1])


def plan_windows(hits: list[tuple[WindowSpec, frozenset[str]]], stored: Mapping[str, Window | None],
                 outputs: Mapping[str, Any], now: datetime) -> WindowPlan:
    """Merges the event's hits into the windows and decides whether the trigger fires.

    Args:
        hits: each window's spec and the names of its conditions the event meets.
        stored: the stored window of each condition id (None when there is none).
        outputs: the upstream execution's flow outputs, merged into the windows' outputs.
        now: the event time.
    """
    merged: list[tuple[WindowSpec, Window | None, bool]] = []
    for spec, met in hits:
        window = current_or_new(spec, stored.get(spec.condition_id), now)
        counted = window is not None and bool(met)
        if window is not None and counted:
            window = replace(window, met=window.met | met, outputs={**window.outputs, **outputs})
        merged.append((spec, window, counted))
    complete = all(w is not None and set(s.conditions) <= w.met for s, w, _ in merged)
    fire = complete and any(counted for _, _, counted in merged)
    if not fire:
        return WindowPlan(False, save=tuple(w for _, w, counted in merged if counted and w is not None))
    keep = tuple(w for s, w, _ in merged if w is not None and not s.reset_on_success)
    drop = tuple(w for s, w, _ in merged if w is not None and s.reset_on_success)
    all_outputs: dict[str, Any] = {}
    for _, window, _ in merged:
        all_outputs.update(window.outputs if window is not None else {})
    return WindowPlan(True, save=keep, delete=drop, outputs=all_outputs)
