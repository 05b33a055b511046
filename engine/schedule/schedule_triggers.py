"""L1 pure core: a flow's Schedule and ScheduleOnDates triggers and the dates each one names, for
the schedule service and for ``podium triggers list`` (which reads them without the services)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from engine.plugins.core.triggers import Schedule, ScheduleOnDates
from engine.schedule.cron import schedule_from_options, zone_of
from engine.schedule.policy import DateList, DateSequence

if TYPE_CHECKING:
    from engine.model.flow import Flow

ScheduleTrigger: TypeAlias = Schedule | ScheduleOnDates


def schedule_triggers(flow: Flow) -> list[ScheduleTrigger]:
    """The flow's Schedule and ScheduleOnDates triggers (parsed options)."""
    return [t for t in flow.triggers or [] if isinstance(t, (Schedule, ScheduleOnDates))]


def sequence_of(trigger: ScheduleTrigger, data: Mapping[str, Any], default_zone: str) -> DateSequence:
    """The dates of a trigger from its options and its state (for ``podium triggers list``)."""
    if isinstance(trigger, Schedule):
        return schedule_from_options(trigger, default_zone)
    return DateList.parse(data.get("dates") or [], zone_of(trigger.timezone or default_zone))
