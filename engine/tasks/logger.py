"""L2 adapter: the logger a task writes to (``ctx.logger``), Kestra's ``RunContextLogger``.

Every message is masked (secret values become ``******``), dropped when under the task's
``logLevel``, stamped with the task run's identity and the injected clock, and handed to the
log sink (the worker's log writer, or a list in tests).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.model.task import LogLevel
from engine.tasks.masking import Masker

LEVEL_ORDER = {LogLevel.TRACE: 0, LogLevel.DEBUG: 1, LogLevel.INFO: 2, LogLevel.WARN: 3, LogLevel.ERROR: 4}


def level_of(level: LogLevel | str) -> LogLevel:
    """A LogLevel from its name; WARNING is read as WARN (Python's spelling)."""
    if isinstance(level, LogLevel):
        return level
    name = level.upper()
    return LogLevel.WARN if name == "WARNING" else LogLevel(name)


def is_enabled(level: LogLevel, minimum: LogLevel | None) -> bool:
    return minimum is None or LEVEL_ORDER[level] >= LEVEL_ORDER[minimum]


@dataclass(frozen=True)
class LogEntry:
    """One log line of a task run, in Kestra's LogEntry shape (``to_json``)."""

    level: LogLevel
    message: str
    timestamp: datetime
    namespace: str
    flow_id: str
    execution_id: str
    task_id: str | None
    task_run_id: str | None
    attempt_number: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "flowId": self.flow_id, "executionId": self.execution_id,
                "taskId": self.task_id, "taskRunId": self.task_run_id,
                "attemptNumber": self.attempt_number, "timestamp": self.timestamp.isoformat(),
                "level": self.level.value, "message": self.message}


LogSink = Callable[[LogEntry], None]


class TaskLogger:
    def __init__(self, sink: LogSink, masker: Masker, clock: Callable[[], datetime],
                 stamp: Callable[[LogLevel, str, datetime], LogEntry],
                 minimum: LogLevel | None = None) -> None:
        self._sink, self._masker, self._clock, self._stamp = sink, masker, clock, stamp
        self.minimum = minimum

    def log(self, level: LogLevel | str, message: object) -> None:
        level = level_of(level)
        if not is_enabled(level, self.minimum):
            return
        text = self._masker.mask(message if isinstance(message, str) else str(message))
        self._sink(self._stamp(level, text, self._clock()))

    def trace(self, message: object) -> None:
        self.log(LogLevel.TRACE, message)

    def debug(self, message: object) -> None:
        self.log(LogLevel.DEBUG, message)

    def info(self, message: object) -> None:
        self.log(LogLevel.INFO, message)

    def warn(self, message: object) -> None:
        self.log(LogLevel.WARN, message)

    warning = warn

    def error(self, message: object) -> None:
        self.log(LogLevel.ERROR, message)
