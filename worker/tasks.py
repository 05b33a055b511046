"""L4: the two thin Celery tasks. They turn a message into one call of the services layer.

- ``podium.run_task_run(execution_id, task_run_id, attempt, task_id, task_type, flow, queue)``
  runs one task run attempt on a worker (keyword arguments, so ``celery inspect active`` and
  Flower show which flow and task it is); the result goes back to the executor as an event sent
  by ``services.run_task_run`` itself.
- ``podium.process_event(execution_id, event)`` applies one event on the executor queue.

Services are built once per process, on the first task (after a prefork child was forked), never
at import. ``run_task_run`` may return ``False`` (the attempt did not succeed) to stop the rest of a
chain: Celery only continues a chain after a link returned normally. Otherwise it returns what the
next link of its chain needs (outputs the executor may not have recorded yet): links after the
first are mutable signatures, so Celery passes that result as their first argument (``carried``).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from celery import Celery, Task

from engine.dispatch import TaskRunRef
from worker.celery_app import PROCESS_EVENT, RUN_TASK_RUN
from worker.dispatch import EVENT_PRIORITY
from worker.kills import attach_services, kill_switch

if TYPE_CHECKING:
    from engine.services import Services

S = TypeVar("S")


class LazyServices(Generic[S]):
    """Builds the services on first use, once per process (a forked child builds its own)."""

    def __init__(self, provider: Callable[[], S]) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._services: S | None = None

    def get(self) -> S:
        with self._lock:
            # Database pools must not cross a fork, hence the pid check.
            if self._services is None or self._pid != os.getpid():
                self._services = self._provider()
                self._pid = os.getpid()
            return self._services

    def peek(self) -> S | None:
        """The services if this process built them already, else None (never builds)."""
        with self._lock:
            return self._services if self._pid == os.getpid() else None


@dataclass(frozen=True)
class PodiumTasks:
    run_task_run: Task
    process_event: Task


def register_tasks(app: Celery, services_provider: Callable[[], "Services"]) -> PodiumTasks:
    """Defines ``podium.run_task_run`` and ``podium.process_event`` on ``app``."""
    services: LazyServices[Services] = LazyServices(services_provider)
    kills = kill_switch(app)
    attach_services(app, services.peek)

    @app.task(name=RUN_TASK_RUN, bind=True, shared=False)
    def run_task_run(self: Task, carried: dict[str, Any] | None = None, *, execution_id: str, task_run_id: str,
                     attempt: int, task_id: str, task_type: str, flow: str, queue: str) -> Any:
        if kills.is_killed(task_run_id, attempt):
            self.request.chain = None  # a killed link stops its chain too
            return None
        ref = TaskRunRef(execution_id=execution_id, task_run_id=task_run_id, attempt=attempt,
                         task_id=task_id, task_type=task_type, flow=flow, queue=queue)
        # False: "the attempt did not succeed: stop the chain"; a dict goes to the next link.
        run: Callable[..., Any] = services.get().run_task_run
        # The result goes to the executor at this message's priority (a fan-out's is low).
        token = EVENT_PRIORITY.set((self.request.delivery_info or {}).get("priority") or None)
        try:
            outcome = run(ref) if carried is None else run(ref, carried)
        finally:
            EVENT_PRIORITY.reset(token)
        # A kill that arrived while the attempt ran also ends the chain it belongs to.
        if outcome is False or kills.is_killed(task_run_id, attempt):
            self.request.chain = None
            return None
        return outcome if isinstance(outcome, dict) else None

    @app.task(name=PROCESS_EVENT, shared=False)
    def process_event(execution_id: str, event: dict[str, Any]) -> None:
        services.get().handle_event(execution_id, event)

    return PodiumTasks(run_task_run=run_task_run, process_event=process_event)
