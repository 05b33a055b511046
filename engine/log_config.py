"""L2: structured logs for every Podium process (web, executor, worker, beat, server local).

``configure_logging(log_format, level, process=...)`` routes the standard library's logging (Podium's
``podium.*`` loggers, Celery, gunicorn, SQLAlchemy warnings) through structlog's formatter:

- ``json``: one JSON object a line on stderr (``timestamp``, ``level``, ``logger``, ``event``,
  ``process`` and whatever is bound), for log shippers in production;
- ``console``: aligned, coloured when stderr is a terminal, for people (the default).

Podium code logs with the standard library (``logging.getLogger("podium.executor")``), so nothing
is printed before a process configures logging except warnings (stdlib's last-resort handler);
identifiers are bound with :func:`bind_ids` (``structlog.contextvars``) around the handling of an
event or a task run, and every line logged inside carries them (``execution_id``, ``task_run_id``,
``task_id``, ``flow``).

No line shows a credential: each rendered line, traceback included, goes through
:func:`engine.credentials.mask_credentials` (a driver's error may quote the URL it could not reach,
with its password), and tracebacks never print local variables (connection arguments hold the
password, a task's locals its secrets).
"""
from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from engine.credentials import mask_credentials

LOG_FORMATS = ("console", "json")
_PER_MESSAGE_LOGGERS = ("celery.app.trace", "celery.worker.strategy")
_HANDLER_MARK = "_podium_handler"


def configure_logging(log_format: str = "console", level: str | int = "INFO", *, process: str | None = None,
                      stream: TextIO | None = None) -> logging.Handler:
    """Installs Podium's handler on the root logger (replacing a previous one of ours); idempotent."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        shared.append(_add_process(process))
    output = stream or sys.stderr
    # Plain tracebacks, never rich's (structlog's default when rich is installed): those render
    # the locals of every frame (secrets among them) with syntax highlighting, seconds per line on
    # a busy machine, under the handler's lock; when Redis restarts, every thread logs one and the
    # process stands still.
    renderer: Processor = (structlog.processors.JSONRenderer() if log_format == "json"
                           else structlog.dev.ConsoleRenderer(colors=_is_tty(output),
                                                              exception_formatter=structlog.dev.plain_traceback))
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if log_format == "json":
        final.append(structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared,
                                                    processors=[*final, renderer, _without_credentials])
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    # Celery logs every message it receives and every task that succeeds, without Podium's ids:
    # three lines per task run besides Podium's own two, a fifth of a no-op execution's CPU at
    # INFO. Those go to DEBUG; failures (ERROR) still show.
    for name in _PER_MESSAGE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if _level(level) <= logging.DEBUG else logging.WARNING)
    return handler


def bind_ids(**ids: object) -> AbstractContextManager[None]:
    """Binds identifiers (None values skipped) to every log line of this thread/context inside."""
    return structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None})


def _add_process(process: str) -> Processor:
    def add(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        event.setdefault("process", process)
        return event
    return add


def _without_credentials(_logger: WrappedLogger, _name: str, rendered: Any) -> Any:
    """The last step, on the rendered line (a str: typed Any, as structlog types every step's value
    an event dict): URLs and ``password=`` pairs lose their credentials."""
    return mask_credentials(rendered) if isinstance(rendered, str) else rendered


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
