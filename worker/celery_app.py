"""The worker's app for Celery's own command line: ``celery -A worker.celery_app worker -Q default``
is ``podium worker``; ``inspect``, ``control`` and ``flower`` work with it too."""
from __future__ import annotations

from celery import Celery

from messaging.processes import LazyApp
from worker.tasks import register_worker_tasks

_lazy_app = LazyApp("worker", register_worker_tasks)


def __getattr__(name: str) -> Celery:
    """``app`` (or ``celery``), built from the environment's settings on first access."""
    if name in ("app", "celery"):
        return _lazy_app.get()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
