"""The worker's two thin Celery tasks: each turns a message into one call of the worker's services.

- ``podium.run_task_run(execution_id, task_run_id, attempt, task_id, task_type, flow, queue)``
  runs one task run attempt (keyword arguments, so ``celery inspect active`` and Flower show which
  flow and task it is), and, as a link of a Celery chain, the links after it while its batch
  budget lasts (``worker.batches.run_chain_link``); it returns what the next link needs.
- ``podium.run_task_runs(execution_id, flow, queue, attempts, join=None)`` runs a fan-out's chunk
  of attempts as one batch, then the fan-out's join if this chunk wrote its last success.

How batches, chunks and joins work is told once, in ``worker.batches``. Results go back to the
executor as events the services send themselves, at the priority of the message that ran them.
(``podium.process_event``, the executor's task, is in executor/tasks.py.)

Services are built once per process, never at import: a prefork child builds its own as soon as it
is forked (``worker_process_init``), so its first task run does not wait for the database
connection, the schema check and the task registry; other pools build them on the first task.
A prefork child also listens for the kills its main process relays (``messaging.kill_relay``).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_shutdown

from engine.dispatch import TaskRunRef
from engine.heap import freeze_startup_objects
from messaging.chunks import chunk_refs
from messaging.dispatch import EVENT_PRIORITY
from messaging.kill_relay import forget_relay_folder, listen_for_kills
from messaging.kills import attach_services, deliver_kill, kill_switch
from messaging.lazy_services import LazyServices
from messaging.task_names import RUN_TASK_RUN, RUN_TASK_RUNS
from worker.batches import run_chain_link
from worker.services import worker_services

if TYPE_CHECKING:
    from engine.services import Services

log = logging.getLogger("podium.worker")


def register_worker_tasks(app: Celery, services: LazyServices[Services]) -> None:
    """Defines ``podium.run_task_run`` and ``podium.run_task_runs`` on ``app``; they run on the
    worker's services over ``services`` (``worker.services``)."""
    kills = kill_switch(app)
    worker = LazyServices(lambda: worker_services(services.get()))
    # Kills reach the attempts of any services built, even by a command before any task ran.
    attach_services(app, lambda: worker.get() if services.peek() is not None else None)

    def build_in_child(**_: Any) -> None:
        try:
            worker.get()
        except Exception:  # the first task builds them again, and says why if it fails
            log.warning("could not build the services of this worker process yet", exc_info=True)
        # Kills reach the main process; it relays them to this child (messaging/kill_relay.py).
        listen_for_kills(partial(deliver_kill, app))
        freeze_startup_objects()

    worker_process_init.connect(build_in_child, weak=False)
    worker_shutdown.connect(lambda **_: forget_relay_folder(), weak=False, dispatch_uid="podium-kill-relay")

    def is_killed(ref: TaskRunRef) -> bool:
        return kills.is_killed(ref.task_run_id, ref.attempt)

    def run_task_run(self: Task, carried: dict[str, Any] | None = None, *, execution_id: str, task_run_id: str,
                     attempt: int, task_id: str, task_type: str, flow: str, queue: str) -> dict[str, Any] | None:
        ref = TaskRunRef(execution_id=execution_id, task_run_id=task_run_id, attempt=attempt,
                         task_id=task_id, task_type=task_type, flow=flow, queue=queue)
        with _event_priority(self):
            return run_chain_link(self.request, ref, carried, worker.get, is_killed)

    def run_task_runs(self: Task, *, execution_id: str, flow: str, queue: str, attempts: list[list[str | int]],
                      join: list[str | int] | None = None) -> None:
        joined = chunk_refs(execution_id, flow, queue, [join])[0] if join else None
        with _event_priority(self):
            worker.get().run_task_runs(chunk_refs(execution_id, flow, queue, attempts), is_killed, joined)

    # Registered by calling Celery's decorator: it is untyped, and would untype the functions.
    app.task(name=RUN_TASK_RUN, bind=True, shared=False)(run_task_run)
    app.task(name=RUN_TASK_RUNS, bind=True, shared=False)(run_task_runs)


@contextlib.contextmanager
def _event_priority(task: Task) -> Iterator[None]:
    """The events sent while ``task`` runs go at its message's priority (a fan-out's is low)."""
    token = EVENT_PRIORITY.set((task.request.delivery_info or {}).get("priority") or None)
    try:
        yield
    finally:
        EVENT_PRIORITY.reset(token)
