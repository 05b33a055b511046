"""L2 adapter: run one attempt of a runnable task: ``run_task(spec, options, ctx) -> TaskOutcome``.

The implementation is the spec's ``implementation`` (``module:function``), a string chosen by
Podium or by an installed plugin's author and found through the registry, never a string read
from YAML. It is imported on first use, so the worker loads httpx only when an HTTP task runs.
The function takes ``(options, ctx)`` and returns a mapping of outputs, None, or a TaskOutcome.

The runner renders nothing itself except the common ``timeout``; each task renders its own
dynamic properties through ``ctx``. It turns exceptions into FAILED with one clear ERROR log line
(the traceback of an unexpected error goes to the process log at DEBUG, never to the task's),
stops the task at its timeout or on kill (``run_task``), and returns outputs both databases store
alike (``to_jsonable``), secrets masked.
"""
from __future__ import annotations

import importlib
import logging
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from functools import cache
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from engine.durations import format_duration, parse_duration
from engine.errors import PodiumError
from engine.plugins.base import PluginSpec
from engine.state import State
from engine.storable import finite, storable
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed, TaskOutcome, TaskResult
from engine.tasks.threads import ReusedThreads, Running
from engine.templating.errors import ExpressionError

NOT_IMPLEMENTED = "{type} is not implemented yet in Podium"
TOO_DEEP = "the task's outputs are nested too deeply to be stored"
# How often the waiting thread looks at the deadline and the kill flag.
_POLL_SECONDS = 0.05
#: Once told to stop (timeout, kill), how long a task has to stop by itself before Stopped is raised in it.
COOPERATIVE_SECONDS = 1.0
#: How long Stopped is raised again and again before the thread is left as a runaway: Python code
#: stops within milliseconds; a thread still running then is inside a C call (a socket read...).
STOP_GRACE_SECONDS = 2.0

# Called with the options model of its spec, parsed from the task's YAML.
TaskFunction = Callable[[BaseModel, RunContext], TaskResult]
# The threads task functions run on (daemon threads, reused: engine/tasks/threads.py).
_log = logging.getLogger(__name__)
_TASK_THREADS = ReusedThreads("podium-task")


class ImplementationError(PodiumError, ImportError):
    pass


@cache
def load_implementation(path: str) -> TaskFunction:
    """Imports ``module:function``; raises ImplementationError naming the plugin to fix."""
    module_name, _, function_name = path.partition(":")
    if not module_name or not function_name:
        raise ImplementationError(f"invalid implementation '{path}': expected 'package.module:function'")
    try:
        function: TaskFunction = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ImplementationError(f"cannot load task implementation '{path}': {error}") from error
    if not callable(function):
        raise ImplementationError(f"task implementation '{path}' is not a function")
    return function


@dataclass
class _Attempt:
    result: object = None  # a TaskResult if the implementation keeps its contract
    error: BaseException | None = None
    trace: str = ""


def run_task(spec: PluginSpec, options: BaseModel, ctx: RunContext, *, cooperative: float = COOPERATIVE_SECONDS,
             stop_grace: float = STOP_GRACE_SECONDS) -> TaskOutcome:
    """Runs ``options`` (a parsed task of type ``spec``) once and returns how it ended.

    At its timeout or kill the task is stopped (``_stop``): told by ``ctx.cancel_event``, then
    given ``cooperative`` seconds to stop by itself, then ``Stopped`` is raised in its thread until
    it ends, for at most ``stop_grace`` seconds more. One that outlives that is a runaway
    (``engine.tasks.threads``): the outcome is returned, and the caller's slot stays busy
    until the thread ends (``wait_for_runaways``).
    """
    level = getattr(options, "log_level", None)
    if level is not None:  # the task's own logLevel wins over the context's default
        ctx.logger.minimum = level
    if not spec.implemented or spec.implementation is None:
        return _failed(ctx, NOT_IMPLEMENTED.format(type=spec.type))
    try:
        function = load_implementation(spec.implementation)
        timeout = _timeout(options, ctx)
    except Exception as error:  # noqa: BLE001 - a broken plugin or an unrenderable timeout fails this task run only
        return _failed(ctx, _describe(error), _trace(error))
    attempt, running = _start(function, options, ctx)
    state = _wait(running, ctx, timeout)
    if state is not None and running.alive:
        _stop(running, ctx, cooperative, stop_grace)
    if state is State.FAILED:
        return _failed(ctx, f"Timeout after {format_duration(timeout)}" if timeout else "Timeout")
    if state is State.KILLED:
        ctx.logger.warn("Task killed")
        return TaskOutcome(State.KILLED, error="killed", metrics=tuple(ctx.metrics))
    if attempt.error is not None:
        return _failed(ctx, _describe(attempt.error), attempt.trace)
    return _finish(attempt.result, ctx)


def has_runaways() -> bool:
    """Whether a task this thread ran outlived its stop and may still run (``run_task``)."""
    return _TASK_THREADS.has_runaways()


def wait_for_runaways(what: str) -> None:
    """Holds the calling thread (a worker slot) until the tasks it ran that outlived their stop
    have ended: a worker never runs more stuck task threads than it has slots."""
    _TASK_THREADS.wait_for_runaways(what)


def _start(function: TaskFunction, options: BaseModel, ctx: RunContext) -> tuple[_Attempt, Running]:
    attempt = _Attempt()

    def target() -> None:
        try:
            attempt.result = function(options, ctx)
        except BaseException as error:  # noqa: BLE001 - reported to the caller, never re-raised here
            attempt.error, attempt.trace = error, _trace(error)

    return attempt, _TASK_THREADS.submit(target)


def _wait(running: Running, ctx: RunContext, timeout: timedelta | None) -> State | None:
    """None when the task ended by itself; FAILED at its timeout; KILLED when killed (its cancel
    event set by the worker), also when it then ended by itself."""
    deadline = time.monotonic() + timeout.total_seconds() if timeout is not None else None
    while not running.ended.wait(_POLL_SECONDS) and running.alive:
        if deadline is not None and time.monotonic() >= deadline:
            return State.FAILED
        if ctx.cancel_event.is_set():
            return State.KILLED
    return State.KILLED if ctx.cancel_event.is_set() else None


def _stop(running: Running, ctx: RunContext, cooperative: float, grace: float) -> None:
    """Stops the task's thread: its cancel event first (Sleep, HTTP transfers and subprocesses
    stop on it, ``engine.tasks.processes``), then ``Stopped`` raised in it, again every
    ``_POLL_SECONDS`` (a task may catch one), for Python code that ignores the event."""
    ctx.cancel_event.set()
    if running.ended.wait(cooperative):
        return
    deadline = time.monotonic() + grace
    while running.alive and time.monotonic() < deadline:
        running.stop()
        running.ended.wait(_POLL_SECONDS)
    if running.alive:
        what = f"task run {ctx.task_run_id} (attempt {ctx.identity.attempt})"
        ctx.logger.warn(f"The task still runs {cooperative + grace:.0f} s after it was stopped: it holds its "
                        "worker slot until it ends")
        _TASK_THREADS.runaway(running, what)


def _timeout(options: BaseModel, ctx: RunContext) -> timedelta | None:
    raw = getattr(options, "timeout", None)
    if raw is None:
        return None
    return parse_duration(str(ctx.render(raw)))


def _finish(result: object, ctx: RunContext) -> TaskOutcome:
    if isinstance(result, TaskOutcome):
        state, outputs, error = result.state, result.outputs, result.error
    elif result is None or isinstance(result, Mapping):
        state, outputs, error = State.SUCCESS, dict(result or {}), None
    else:
        return _failed(ctx, f"task returned a {type(result).__name__}; expected a mapping of outputs")
    if state is State.WARNING and error:
        ctx.logger.warn(error)
    try:
        jsonable = to_jsonable(outputs)
    except NotJson as not_json:
        return _failed(ctx, str(not_json))
    except RecursionError:
        return _failed(ctx, TOO_DEEP)
    clean = ctx.masker.mask(jsonable)
    return TaskOutcome(state, clean, error, tuple(ctx.metrics))


def _failed(ctx: RunContext, message: str, trace: str = "") -> TaskOutcome:
    ctx.logger.error(message)
    if trace:
        # Podium's internals are no part of a flow's logs: the trace of an unexpected error goes to
        # the process log, at DEBUG (`--log-level DEBUG`), masked like the task's own lines.
        _log.debug("task run %s failed: %s\n%s", ctx.identity.task_run_id, ctx.masker.mask(message),
                   ctx.masker.mask(trace))
    return TaskOutcome(State.FAILED, {}, ctx.masker.mask(message), tuple(ctx.metrics))


def _trace(error: BaseException) -> str:
    """The traceback worth keeping: none for a failure the flow caused (its message says it all)."""
    return "" if _is_expected(error) else traceback.format_exc()


def _is_expected(error: BaseException) -> bool:
    return isinstance(error, (TaskFailed, PodiumError, ExpressionError))


def _describe(error: BaseException) -> str:
    """The message a user sees: as is for Podium's own errors, with the exception type otherwise."""
    text = str(error).strip()
    if _is_expected(error):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class NotJson(PodiumError, TypeError):
    """An output that is not a JSON value: its path and what it is."""

    def __init__(self, value: object) -> None:
        self.path: list[str] = []
        self.kind = type(value).__name__
        super().__init__(self.kind)

    def __str__(self) -> str:
        where = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in self.path).lstrip(".")
        return (f"output '{where}' is of type {self.kind}, which cannot be stored: a task's outputs are "
                "strings, numbers, booleans, null, lists and maps of them")


def to_jsonable(value: Any) -> Any:
    """Outputs as JSON values both databases store alike: dates in ISO-8601, durations as PT..,
    enums by value, bytes decoded, NULs and lone surrogates as U+FFFD, NaN or infinities as strings
    (``engine.storable``: as both databases store them, and so a chained task sees what they hold).
    Raises NotJson for anything else."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, (bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else finite(value)
    if isinstance(value, dict):
        return {to_jsonable(str(k)): _item(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_item(i, v) for i, v in enumerate(value)]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, (PurePath, bytes)):
        return to_jsonable(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    raise NotJson(value)


def _item(key: object, value: Any) -> Any:
    try:
        return to_jsonable(value)
    except NotJson as error:
        error.path.insert(0, str(key))  # paid only on the way out of a bad output
        raise
