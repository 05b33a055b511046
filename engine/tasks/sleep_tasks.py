"""L2 adapter: runs ``flow.Sleep``; a kill or a timeout (the cancel event) ends it early."""
from __future__ import annotations

from engine.durations import format_duration
from engine.plugins.core.sleep import SleepOptions
from engine.tasks.context import RunContext
from engine.tasks.props import as_duration


def run_sleep(options: SleepOptions, ctx: RunContext) -> None:
    duration = as_duration(ctx, options.duration, "duration")
    # Kestra's Sleep logs this line at INFO: log.Fetch and log counts include it.
    ctx.logger.info(f"Waiting for {format_duration(duration)}")
    if ctx.cancel_event.wait(max(duration.total_seconds(), 0.0)):
        ctx.logger.debug("Sleep interrupted")
