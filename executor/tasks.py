"""The executor's one Celery task: ``podium.process_event(execution_id, event)`` applies one event
(a task run's result, a timer, a kill...) to its execution (``executor.event_handler``: the row
lock, ``advance``, the save, the commands after it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery

from executor.services import executor_services
from messaging.lazy_services import LazyServices
from messaging.task_names import PROCESS_EVENT

if TYPE_CHECKING:
    from engine.services import Services


def register_executor_tasks(app: Celery, services: LazyServices[Services]) -> None:
    """Defines ``podium.process_event`` on ``app``; it runs on the executor's services over
    ``services``, built once per process on first use."""
    executor = LazyServices(lambda: executor_services(services.get()))

    def process_event(execution_id: str, event: dict[str, Any]) -> None:
        executor.get().handle_event(execution_id, event)

    # Registered by a call rather than as a decorator: Celery's task decorator is untyped and
    # would make the function untyped for mypy.
    app.task(name=PROCESS_EVENT, shared=False)(process_event)
