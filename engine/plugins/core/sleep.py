"""L1 pure core: options and spec of ``flow.Sleep``, a runnable task despite its package.

Run by :mod:`engine.tasks.sleep_tasks` on a worker; it stops early when the task run is killed.
"""
from __future__ import annotations

from engine.model.task import Duration, TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec


class SleepOptions(TaskOptions):
    duration: Duration = dynamic(..., "ISO-8601 duration to wait, e.g. PT5S.")


SPECS: list[PluginSpec] = [
    PluginSpec(
        type="io.kestra.plugin.core.flow.Sleep", kind=PluginKind.RUNNABLE, options=SleepOptions,
        title="Wait for a duration.", implementation="engine.tasks.sleep_tasks:run_sleep",
        examples=("duration: PT5S",)),
]
