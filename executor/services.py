"""The executor's services: the shared ``engine.services.Services`` and what only the executor does.

``ExecutorServices(shared)`` adds the executor's entry point, ``handle_event``, called by its
Celery task (``executor.tasks``) and by the inline dispatcher (``cli.inline``). It shares the shared
services' environment, flow catalog and execution service, so a process that runs the executor
and other processes (``podium server local``, ``podium run``) builds those once.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from engine.services import Services
from executor.event_handler import EventHandler


@runtime_checkable
class EventConsumer(Protocol):
    """What ``podium.process_event`` calls."""

    def handle_event(self, execution_id: str, message: Mapping[str, Any]) -> None: ...


class ExecutorServices:
    """The executor's entry point over the shared services (``shared``)."""

    def __init__(self, shared: Services) -> None:
        self.shared = shared
        self.env = shared.env
        self.events = EventHandler(shared.env, shared.executions)

    def handle_event(self, execution_id: str, message: Mapping[str, Any]) -> None:
        """Applies one executor event to its execution."""
        self.events.handle_event(execution_id, message)


def executor_services(services: Services | EventConsumer) -> EventConsumer:
    """What the executor's task calls, given the services a process built: the executor's services
    around the shared ones; services that consume events themselves (test doubles that play every
    process) as they are."""
    return services if isinstance(services, EventConsumer) else ExecutorServices(services)
