"""L4: what Celery adds to Podium's metrics and logs.

- :func:`stamp_messages`: every ``podium.run_task_run`` (and ``podium.run_task_runs``) message
  gets a ``podium_sent_at`` header (epoch seconds) when it is published, by the executor (the
  first link) or by the worker that finished the previous link of a chain; the worker exposes it
  to the services as ``engine.metrics.message_sent_at`` while the task runs, which gives the
  ``dispatched_to_started`` phase. Celery signals are process-wide: the receivers are connected
  once per process (``dispatch_uid``) and act on Podium's task name only.
- :func:`log_through_podium`: a Celery worker started by ``celery -A worker.celery_app worker``
  or ``podium executor|worker`` logs through :func:`engine.log_config.configure_logging`
  (``log_format`` json or console) instead of Celery's own format.
"""
from __future__ import annotations

import time
from typing import Any

from celery import Celery, Task
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from engine.log_config import configure_logging
from engine.metrics import message_sent_at
from engine.settings import Settings
from messaging.task_names import RUN_TASK_RUN, RUN_TASK_RUNS

SENT_AT_HEADER = "podium_sent_at"
_STAMPED = frozenset({RUN_TASK_RUN, RUN_TASK_RUNS})


def _stamp(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and (sender or headers.get("task")) in _STAMPED:
        headers[SENT_AT_HEADER] = time.time()


def _before_run(task: Task | None = None, **_: Any) -> None:
    if task is None or task.name not in _STAMPED:
        return
    sent = task.request.get(SENT_AT_HEADER)
    message_sent_at.set(float(sent) if isinstance(sent, (int, float)) else None)


def _after_run(task: Task | None = None, **_: Any) -> None:
    if task is not None and task.name in _STAMPED:
        message_sent_at.set(None)


def stamp_messages() -> None:
    """Connects the publish/run receivers of this process (idempotent)."""
    before_task_publish.connect(_stamp, weak=False, dispatch_uid="podium-sent-at")
    task_prerun.connect(_before_run, weak=False, dispatch_uid="podium-sent-at-prerun")
    task_postrun.connect(_after_run, weak=False, dispatch_uid="podium-sent-at-postrun")


def log_through_podium(app: Celery, settings: Settings, process: str = "worker") -> None:
    """Celery's ``setup_logging`` hands over to Podium's structlog configuration (this process)."""

    def setup(loglevel: str | int | None = None, **_: Any) -> None:
        configure_logging(settings.log_format, loglevel or settings.log_level, process=process)

    setup_logging.connect(setup, weak=False, dispatch_uid="podium-setup-logging")
