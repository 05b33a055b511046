"""L1 contract: how the services layer hands work to the processes, without knowing Celery.

``engine.services`` is given a :class:`Dispatcher`; ``messaging.dispatch.CeleryDispatcher`` is the
production one (Celery canvases on Redis or the embedded broker), and tests may use an inline one.
Every message carries ids only, and every call happens after the database commit that created
the work, so a message never refers to something that is not saved yet.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.model.task import TaskOptions

EXECUTOR_QUEUE = "executor"
DEFAULT_QUEUE = "default"


def queue_of(task: TaskOptions | None) -> str:
    """The worker queue of a task: its ``workerGroup.key`` (worker groups are queues), else the default
    (also when the flow has no such task)."""
    group = task.worker_group if task is not None else None
    return str(group.key) if group is not None else DEFAULT_QUEUE


@dataclass(frozen=True)
class TaskRunRef:
    """What a worker needs to find a task run attempt; also shown by ``celery inspect``."""

    execution_id: str
    task_run_id: str
    attempt: int
    task_id: str
    task_type: str
    flow: str  # "namespace.flowId", for readable names in Flower and logs
    queue: str = DEFAULT_QUEUE


class Dispatcher(Protocol):
    def dispatch_task_runs(self, refs: Sequence[TaskRunRef], *, chain: bool = False, spread: bool = False,
                           join: TaskRunRef | None = None) -> None:
        """Sends ready task runs to workers: a group for a fan-out (in chunks a worker runs as one
        batch, where the dispatcher does), or a chain where each starts after the previous one
        succeeded on the worker, without a round trip to the executor. ``spread``: attempts a
        chunk gave back once it outlasted its patience, to share among more worker slots.
        ``join``: the task run to start once every one of ``refs`` succeeded, by the worker that
        writes the last success (engine/executor/joins.py); a dispatcher may ignore it, the
        executor then starts it itself."""

    def send_event(self, execution_id: str, event: dict[str, Any]) -> None:
        """Queues an event (a task run result, a timer, a kill...) for the executor."""

    def kill_task_runs(self, refs: Sequence[TaskRunRef]) -> None:
        """Asks the workers running these task runs to stop them."""
