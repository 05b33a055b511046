"""The worker's services: the shared ``engine.services.Services`` and what only a worker does.

``WorkerServices(shared)`` adds to the shared services the worker's entry points, called by its
Celery tasks (``worker.tasks``) and by the inline dispatcher of the tests (``cli.inline``): run a
chain link and the links after it, run a fan-out's chunk, stop the attempts running in this
process. They share the shared services' environment, flow catalog and execution service, so a
process that runs both (``podium server local``, ``podium run``) builds each once.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.dispatch import TaskRunRef
from engine.services import Services
from worker.batches import BatchRunner, Killed, LinkResult, TaskRunner
from worker.task_runs import TaskRunService


class WorkerServices:
    """The worker's entry points over the shared services (``shared``)."""

    def __init__(self, shared: Services) -> None:
        self.shared = shared
        self.env = shared.env
        self.task_runs = TaskRunService(shared.env, shared.flows, shared.executions)
        self.batches = BatchRunner(shared.env, self.task_runs)

    def run_task_run(self, ref: TaskRunRef, carried: Mapping[str, Any] | None = None) -> dict[str, Any] | bool:
        """Runs one attempt; as a chain link, returns what the next link needs, or False to stop
        the chain (``BatchRunner.run_links``)."""
        return self.batches.run_links([ref], carried)[0]

    def run_links(self, refs: Sequence[TaskRunRef], carried: Mapping[str, Any] | None = None,
                  is_killed: Killed | None = None) -> LinkResult:
        """A chain link and the links after it, while the budget lasts: (what the next link
        needs or False, how many links ran here)."""
        return self.batches.run_links(refs, carried, is_killed)

    def run_task_runs(self, refs: Sequence[TaskRunRef], is_killed: Killed | None = None,
                      join: TaskRunRef | None = None) -> None:
        """A fan-out's chunk of attempts of one execution, and the fan-out's join if this chunk
        writes its last success."""
        self.batches.run_chunk(refs, is_killed, join)

    def kill_local_task_runs(self, task_run_ids: list[str]) -> None:
        self.task_runs.kill(task_run_ids)


def worker_services(services: Services | TaskRunner) -> TaskRunner:
    """What the worker's tasks call, given the services a process built: the worker's services
    around the shared ones; services that run task runs themselves (test doubles that play every
    process) as they are."""
    return services if isinstance(services, TaskRunner) else WorkerServices(services)
