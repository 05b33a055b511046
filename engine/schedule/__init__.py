"""L1 pure core: schedule maths for the beat process (no I/O, no clock: time is an argument).

* :mod:`engine.schedule.cron`: cron expressions in a time zone, DST rules, fire times;
* :mod:`engine.schedule.policy`: what a Schedule or ScheduleOnDates trigger fires at ``now``;
* :mod:`engine.schedule.conditions`: the per-date conditions of a Schedule;
* :mod:`engine.schedule.backfill_cursor`: the cursor a backfill walks over a Schedule's past dates;
* :mod:`engine.schedule.flow_trigger` and :mod:`engine.schedule.flow_window`: whether a Flow trigger
  fires for an execution that changed state, and its time windows.
"""
from engine.schedule.cron import CronNeverFires, CronSchedule, FireTime, schedule_from_options, zone_of

__all__ = ["CronNeverFires", "CronSchedule", "FireTime", "schedule_from_options", "zone_of"]
