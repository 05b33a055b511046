"""L4: the two thin Celery tasks. They turn a message into one call of the services layer.

- ``podium.run_task_run(execution_id, task_run_id, attempt, task_id, task_type, flow, queue)``
  runs one task run attempt on a worker (keyword arguments, so ``celery inspect active`` and
  Flower show which flow and task it is); the result goes back to the executor as an event sent
  by ``services.run_task_run`` itself.
- ``podium.run_task_runs(execution_id, flow, queue, attempts, join=None)`` runs a fan-out's
  chunk of attempts as one batch (engine/services/batches.py), then the fan-out's join if this
  chunk wrote its last success (engine/executor/joins.py).
(``podium.process_event``, the executor's task, is in executor/tasks.py.)

Services are built once per process, never at import: a prefork child builds its own as soon as it
is forked (``worker_process_init``), so its first task run does not wait for the database
connection, the schema check and the task registry; other pools build them on the first task.
``run_task_run`` may return ``False`` (the attempt did not succeed) to stop the rest of a chain:
Celery only continues a chain after a link returned normally. Otherwise it returns what the
next link of its chain needs (outputs the executor may not have recorded yet): links after the
first are mutable signatures, so Celery passes that result as their first argument (``carried``).
Before it runs, a link hands the links after it in ``request.chain`` to the services too, which run
as many of them as the batch budget allows; those are taken off ``request.chain``, so Celery
publishes the first link left, if any.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.signals import worker_process_init

from engine.dispatch import TaskRunRef
from engine.heap import freeze_startup_objects
from messaging.dispatch import EVENT_PRIORITY, chunk_refs
from messaging.kills import attach_services, kill_switch
from messaging.lazy_services import LazyServices
from messaging.task_names import RUN_TASK_RUN, RUN_TASK_RUNS

if TYPE_CHECKING:
    from engine.services import Services

log = logging.getLogger("podium.worker")


def register_worker_tasks(app: Celery, services: LazyServices[Services]) -> None:
    """Defines ``podium.run_task_run`` and ``podium.run_task_runs`` on ``app``."""
    kills = kill_switch(app)
    attach_services(app, services.peek)

    def build_in_child(**_: Any) -> None:
        try:
            services.get()
        except Exception:  # the first task builds them again, and says why if it fails
            log.warning("could not build the services of this worker process yet", exc_info=True)
        freeze_startup_objects()

    worker_process_init.connect(build_in_child, weak=False)

    def is_killed(ref: TaskRunRef) -> bool:
        return kills.is_killed(ref.task_run_id, ref.attempt)

    @app.task(name=RUN_TASK_RUN, bind=True, shared=False)
    def run_task_run(self: Task, carried: dict[str, Any] | None = None, *, execution_id: str, task_run_id: str,
                     attempt: int, task_id: str, task_type: str, flow: str, queue: str) -> Any:
        if kills.is_killed(task_run_id, attempt):
            self.request.chain = None  # a killed link stops its chain too
            return None
        ref = TaskRunRef(execution_id=execution_id, task_run_id=task_run_id, attempt=attempt,
                         task_id=task_id, task_type=task_type, flow=flow, queue=queue)
        links = [ref, *_following_links(self.request.chain)]
        # The result goes to the executor at this message's priority (a fan-out's is low).
        with _event_priority(self):
            outcome, taken = services.get().run_links(links, carried, is_killed)
        if taken > 1:
            self.request.chain = self.request.chain[:-(taken - 1)]  # the next link is the last
        # False: "the attempt did not succeed: stop the chain"; a dict goes to the next link. A
        # kill that arrived while the attempts ran also ends the chain they belong to.
        if outcome is False or any(is_killed(link) for link in links[:taken]):
            self.request.chain = None
            return None
        return outcome if isinstance(outcome, dict) else None

    @app.task(name=RUN_TASK_RUNS, bind=True, shared=False)
    def run_task_runs(self: Task, *, execution_id: str, flow: str, queue: str, attempts: list[list[Any]],
                      join: list[Any] | None = None) -> None:
        joined = chunk_refs(execution_id, flow, queue, [join])[0] if join else None
        with _event_priority(self):
            services.get().run_task_runs(chunk_refs(execution_id, flow, queue, attempts), is_killed, joined)


@contextlib.contextmanager
def _event_priority(task: Task) -> Iterator[None]:
    """The events sent while ``task`` runs go at its message's priority (a fan-out's is low)."""
    token = EVENT_PRIORITY.set((task.request.delivery_info or {}).get("priority") or None)
    try:
        yield
    finally:
        EVENT_PRIORITY.reset(token)


def _following_links(chain: list[dict[str, Any]] | None) -> list[TaskRunRef]:
    """The task runs of the links after this one in its Celery chain (the next one is the last
    element), up to the first that is not a ``podium.run_task_run``."""
    refs: list[TaskRunRef] = []
    for link in reversed(chain or []):
        if not isinstance(link, dict) or link.get("task") != RUN_TASK_RUN or not isinstance(link.get("kwargs"), dict):
            break
        try:
            refs.append(TaskRunRef(**link["kwargs"]))
        except TypeError:
            break  # not a link Podium built
    return refs
