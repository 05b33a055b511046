"""The executor's app for Celery's own command line: ``celery -A executor.celery_app worker -Q executor
-P threads`` is ``podium executor``; ``inspect``, ``control`` and Flower work with it too."""
from __future__ import annotations

from celery import Celery

from executor.tasks import register_executor_tasks
from messaging.processes import LazyApp

_lazy_app = LazyApp("executor", register_executor_tasks)


def __getattr__(name: str) -> Celery:
    """``app`` (or ``celery``), built from the environment's settings on first access."""
    if name in ("app", "celery"):
        return _lazy_app.get()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
