"""The executor's one Celery task: ``podium.process_event(execution_id, event)`` applies one event
(a task run's result, a timer, a kill...) to its execution through ``Services.handle_event``
(engine/services/executor_events.py: the row lock, ``advance``, the save, the commands after it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery

from messaging.lazy_services import LazyServices
from messaging.task_names import PROCESS_EVENT

if TYPE_CHECKING:
    from engine.services import Services


def register_executor_tasks(app: Celery, services: LazyServices[Services]) -> None:
    """Defines ``podium.process_event`` on ``app``."""

    def process_event(execution_id: str, event: dict[str, Any]) -> None:
        services.get().handle_event(execution_id, event)

    # Registered by a call rather than as a decorator: Celery's task decorator is untyped and
    # would make the function untyped for mypy.
    app.task(name=PROCESS_EVENT, shared=False)(process_event)
