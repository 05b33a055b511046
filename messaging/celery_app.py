"""The Celery app factory, ``make_celery(settings)``, shared by every process.

No module-level ``Celery(...)`` is built at import: every process builds its own app from one
:class:`~engine.settings.Settings` and adds its own tasks (``executor/tasks.py``,
``worker/tasks.py``). The lazy apps of ``celery -A executor.celery_app`` and
``celery -A worker.celery_app`` are built by ``messaging.processes.LazyApp``.

Choices (docs/celery.md explains them):

- no result backend: task run results travel as events to the executor queue;
- ``task_acks_late`` + ``worker_prefetch_multiplier=1`` + ``task_reject_on_worker_lost``: a message
  is removed only once its task finished, and a worker holds one message per free slot;
- JSON only: messages carry ids and short strings;
- Redis ``visibility_timeout`` of 12 h: longer than any sane task run, because an unacked message
  is redelivered when it expires; lost work is recovered earlier by leases and the reaper.
"""
from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from engine.dispatch import DEFAULT_QUEUE, EXECUTOR_QUEUE
from engine.settings import Settings
from messaging.fs_transport import FS_SCHEME, fs_transport_options, register_fs_transport
from messaging.observability import stamp_messages
from messaging.redis_transport import TRANSPORT as REDIS_TRANSPORT
from messaging.task_names import PROCESS_EVENT, RUN_TASK_RUN, RUN_TASK_RUNS

#: Polling interval of the virtual transports (memory, podium-fs): kombu's default of 1 s would
#: make every hop between executor and worker cost a second.
POLLING_INTERVAL_SECONDS = 0.01
REDIS_VISIBILITY_TIMEOUT_SECONDS = 12 * 3600


def make_celery(settings: Settings, *, name: str = "podium") -> Celery:
    """A configured Celery app for ``settings``; each process adds its tasks."""
    broker_url = settings.resolved_broker_url
    if broker_url.startswith(FS_SCHEME):
        register_fs_transport()
    app = Celery(name, broker=broker_url, set_as_current=False)
    app.conf.update(_base_config(settings, broker_url))
    if broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport = REDIS_TRANSPORT  # a publish without a new client each time
    stamp_messages()  # podium_sent_at on task run messages (messaging/observability.py)
    return app


def _base_config(settings: Settings, broker_url: str) -> dict[str, Any]:
    return {
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "task_reject_on_worker_lost": True,
        # A broker blip must not kill a long script; the redelivered duplicate is absorbed by the
        # per-attempt idempotency of run_task_run.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_connection_retry_on_startup": True,
        "task_queues": _queues(),
        "task_default_queue": DEFAULT_QUEUE,
        "task_create_missing_queues": True,  # worker groups: any queue name works
        "task_routes": {PROCESS_EVENT: {"queue": EXECUTOR_QUEUE}, RUN_TASK_RUN: {"queue": DEFAULT_QUEUE},
                        RUN_TASK_RUNS: {"queue": DEFAULT_QUEUE}},
        "broker_transport_options": _transport_options(settings, broker_url),
        # No task events unless someone watches (Celery's default): three publishes per task run
        # otherwise, about a millisecond of CPU. Flower turns them on by itself every 5 s
        # (`enable_events`), `celery -A worker.celery_app control enable_events` too. No
        # "task-sent" events: one more publish per dispatched task run (6% of the executor's CPU
        # in a 10,000-item ForEach) for a state Flower shows only until the task is received.
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "timezone": settings.timezone,
        "enable_utc": True,
    }


def _queues() -> tuple[Queue, ...]:
    return tuple(Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]  # kombu has no type hints
                 for name in (EXECUTOR_QUEUE, DEFAULT_QUEUE))


def _transport_options(settings: Settings, broker_url: str) -> dict[str, Any]:
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS}
    if broker_url.startswith(FS_SCHEME):
        return {**fs_transport_options(settings.data_dir / "broker"),
                "polling_interval": POLLING_INTERVAL_SECONDS}
    if broker_url.startswith("memory://"):
        return {"polling_interval": POLLING_INTERVAL_SECONDS}
    return {}
