"""L1 pure core: options and specs of the ``log`` tasks (Log, Fetch, PurgeLogs).

Pure: no I/O imports. The code that runs them lives in :mod:`engine.tasks.log_tasks`.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.model.task import LogLevel, TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec

PREFIX = "io.kestra.plugin.core.log."
LEGACY = "io.kestra.core.tasks.log."


class LogOptions(TaskOptions):
    message: str | list[Any] = dynamic(..., "One message, or a list of messages each logged on its own line.")
    level: LogLevel = Field(LogLevel.INFO, description="Level the message is logged at.")


class FetchOptions(TaskOptions):
    namespace: str | None = dynamic(None, "Namespace of the execution, when `executionId` is another flow's.")
    flow_id: str | None = dynamic(None, "Flow of the execution, when `executionId` is another flow's.")
    execution_id: str | None = dynamic(None, "Execution whose logs are fetched; the current one by default.")
    tasks_id: list[str] | str | None = dynamic(None, "Only the logs of these task ids.")
    level: LogLevel = Field(LogLevel.INFO, description="Lowest level fetched.")


class PurgeLogsOptions(TaskOptions):
    namespace: str | None = dynamic(None)
    flow_id: str | None = dynamic(None)
    execution_id: str | None = dynamic(None)
    log_levels: list[LogLevel] | None = None
    start_date: str | None = dynamic(None)
    end_date: str = dynamic(..., "Logs older than this date are deleted.")


SPECS: list[PluginSpec] = [
    PluginSpec(
        type=PREFIX + "Log", kind=PluginKind.RUNNABLE, options=LogOptions,
        title="Log a message (or each message of a list) in the task logs.",
        aliases=(LEGACY + "Log",), implementation="engine.tasks.log_tasks:run_log",
        examples=("message: Hello {{ inputs.user }}\nlevel: INFO",)),
    PluginSpec(
        type=PREFIX + "Fetch", kind=PluginKind.RUNNABLE, options=FetchOptions,
        title="Fetch the logs of an execution into an internal-storage file (one JSON record a line).",
        aliases=(LEGACY + "Fetch",), implementation="engine.tasks.log_tasks:run_fetch",
        examples=("level: WARN\ntasksId:\n  - extract",)),
    PluginSpec(
        type=PREFIX + "PurgeLogs", kind=PluginKind.RUNNABLE, options=PurgeLogsOptions,
        title="Purge old logs.", implementation="engine.tasks.log_tasks:run_purge_logs", implemented=False),
]
