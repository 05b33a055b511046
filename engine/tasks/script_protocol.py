"""L2 adapter: the lines a script prints, read as Kestra reads them (``TaskLogLineMatcher``).

A whole line of stdout or stderr of the form ``::{json}::`` is a message to the task:

- ``{"outputs": {...}}`` merged into ``outputs.<task>.vars``;
- ``{"metrics": [{"name", "type": counter|timer|gauge, "value", "tags"}]}`` reported with the task
  run (a timer's value: seconds, or an ISO-8601 duration such as ``PT2S``);
- ``{"logs": [{"level", "message"}]}`` logged at that level.

Any other line is logged as it comes: INFO from stdout, ERROR from stderr. A line that looks like
a message but is not valid JSON is logged as a warning ("Invalid outputs"), as Kestra does. The
logger masks secret values in every line.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any

from engine.durations import DurationError, parse_duration
from engine.model.task import LogLevel
from engine.tasks.context import RunContext
from engine.tasks.logger import level_of

_MESSAGE = re.compile(r"^::(\{.*\})::$")
METRIC_TYPES = ("counter", "timer", "gauge")


class ScriptLines:
    """The :class:`engine.tasks.script_runner.LineSink` of one script run: logs each line and
    keeps what the protocol lines said (``vars``). Thread-safe: stdout and stderr are read by
    two threads."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self.vars: dict[str, Any] = {}

    def line(self, text: str, *, stderr: bool) -> None:
        text = text.rstrip("\r")
        found = _MESSAGE.match(text)
        if found is None:
            self._ctx.logger.log(LogLevel.ERROR if stderr else LogLevel.INFO, text)
            return
        try:
            message = json.loads(found.group(1))
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
            self._handle(message)
        except (ValueError, TypeError, KeyError) as error:
            self._ctx.logger.warn(f"Invalid outputs '{_short(text)}': {error}")

    def _handle(self, message: dict[str, Any]) -> None:
        outputs = message.get("outputs")
        if outputs is not None:
            if not isinstance(outputs, dict):
                raise ValueError("'outputs' must be a JSON object")
            with self._lock:
                self.vars.update(outputs)
        for metric in _items(message, "metrics"):
            self._metric(metric)
        for entry in _items(message, "logs"):
            self._ctx.logger.log(_level(entry.get("level")), str(entry.get("message", "")))

    def _metric(self, metric: dict[str, Any]) -> None:
        name, kind = metric.get("name"), str(metric.get("type", "counter")).lower()
        if not isinstance(name, str) or not name:
            raise ValueError("a metric needs a 'name'")
        if kind not in METRIC_TYPES:
            raise ValueError(f"metric '{name}' has type '{kind}'; expected one of {', '.join(METRIC_TYPES)}")
        value = _timer_seconds(metric.get("value")) if kind == "timer" else _number(metric.get("value"), name)
        tags = metric.get("tags") or {}
        if not isinstance(tags, dict):
            raise ValueError(f"metric '{name}': 'tags' must be a JSON object")
        with self._lock:
            self._ctx.metric(name, value, kind, **{str(k): str(v) for k, v in tags.items()})


def _items(message: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = message.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError(f"'{key}' must be a list of JSON objects")
    return items


def _level(name: object) -> LogLevel:
    try:
        return level_of(str(name or "INFO"))
    except ValueError:
        return LogLevel.INFO


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"metric '{name}' has the value {value!r}; expected a number")
    return float(value)


def _timer_seconds(value: object) -> float:
    """A timer's value: a number of seconds or an ISO-8601 duration (Kestra's DurationDeserializer)."""
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except DurationError as error:
            raise ValueError(str(error)) from None
    return _number(value, "timer")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
