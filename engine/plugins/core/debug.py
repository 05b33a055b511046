"""L1 pure core: options and specs of the ``debug`` tasks (Return, Echo). Run by :mod:`engine.tasks.debug_tasks`."""
from __future__ import annotations

from pydantic import Field

from engine.model.task import LogLevel, TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec

PREFIX = "io.kestra.plugin.core.debug."
LEGACY = "io.kestra.core.tasks.debugs."


class ReturnOptions(TaskOptions):
    format: str | None = dynamic(None, "Text rendered and returned as the `value` output.")


class EchoOptions(TaskOptions):
    format: str = dynamic(..., "Text rendered and logged.")
    level: LogLevel = Field(LogLevel.INFO, description="Level the text is logged at.")


SPECS: list[PluginSpec] = [
    PluginSpec(
        type=PREFIX + "Return", kind=PluginKind.RUNNABLE, options=ReturnOptions,
        title="Render a text and return it as the `value` output.",
        aliases=(LEGACY + "Return",), implementation="engine.tasks.debug_tasks:run_return",
        examples=('format: "{{ task.id }} > {{ taskrun.startDate }}"',)),
    PluginSpec(
        type=PREFIX + "Echo", kind=PluginKind.RUNNABLE, options=EchoOptions,
        title="Log a rendered text (deprecated: use log.Log).", deprecated=True,
        aliases=(LEGACY + "Echo",), implementation="engine.tasks.debug_tasks:run_echo",
        examples=('format: "{{ task.id }} > {{ taskrun.startDate }}"',)),
]
