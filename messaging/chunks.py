"""How a fan-out is cut into chunks, and a chunk's message arguments.

The dispatcher's half of the batch/chunk/join protocol, kept here because the executor's
dispatcher (``messaging.dispatch``) and the worker's Celery task (``worker.tasks``) both need
it; the protocol as a whole, and why these numbers, is told in ``worker.batches``.
"""
from __future__ import annotations

from collections.abc import Sequence

from engine.dispatch import TaskRunRef

#: A fan-out goes out in chunks of at most MAX_CHUNK attempts, FIRST_CHUNKS at least: as few
#: messages, claims and result writes as possible while its tasks prove quick. What a chunk gives
#: back (its patience ran out: worker.batches) goes out in at least CHUNKS chunks, a worker's
#: default slots twice, so that tasks that are not quick reach idle slots.
FIRST_CHUNKS = 1
CHUNKS = 8
MAX_CHUNK = 32
#: A fan-out of BULK_SIZE task runs or more is published at BULK_PRIORITY, below other work: on
#: Redis a worker pops the lists of the higher priorities first (0 is the highest), so the task runs
#: of other executions dispatched meanwhile do not queue behind a 10,000-item ForEach.
BULK_SIZE = 20
BULK_PRIORITY = 9  # Redis: the last of the transport's priority steps (0, 3, 6, 9)

def chunks(refs: Sequence[TaskRunRef], at_least: int) -> list[list[TaskRunRef]]:
    """A fan-out cut into chunks: at least ``at_least`` of them (so that as many worker slots share
    it), of at most ``MAX_CHUNK`` attempts, attempts of one execution and queue (worker group)
    each: a fan-out of ``at_least`` attempts or fewer stays in single messages."""
    by_queue: dict[tuple[str, str], list[TaskRunRef]] = {}
    for ref in refs:
        by_queue.setdefault((ref.execution_id, ref.queue), []).append(ref)
    cut: list[list[TaskRunRef]] = []
    for same_queue in by_queue.values():
        count = min(len(same_queue), max(at_least, -(-len(same_queue) // MAX_CHUNK)))
        size, bigger = divmod(len(same_queue), count)  # sizes differ by one at most
        start = 0
        for index in range(count):
            end = start + size + (index < bigger)
            cut.append(same_queue[start:end])
            start = end
    return cut


def bulk_priority(refs: Sequence[TaskRunRef]) -> int | None:
    """The priority a fan-out of ``refs`` is published at: None (the queue's default) unless wide."""
    return BULK_PRIORITY if len(refs) >= BULK_SIZE else None


def chunk_kwargs(refs: Sequence[TaskRunRef], join: TaskRunRef | None = None) -> dict[str, object]:
    """A chunk's arguments: what its attempts share once, then (task run id, attempt, task id,
    task type) of each, and of the fan-out's join if it has one."""
    first = refs[0]
    kwargs: dict[str, object] = {"execution_id": first.execution_id, "flow": first.flow, "queue": first.queue,
                                 "attempts": [_attempt_of(ref) for ref in refs]}
    return kwargs if join is None else {**kwargs, "join": _attempt_of(join)}


def chunk_refs(execution_id: str, flow: str, queue: str,
               attempts: Sequence[Sequence[str | int]]) -> list[TaskRunRef]:
    """The attempts of a chunk's message (``chunk_kwargs`` read back; JSON made the tuples lists)."""
    return [TaskRunRef(execution_id=execution_id, task_run_id=str(task_run_id), attempt=int(attempt),
                       task_id=str(task_id), task_type=str(task_type), flow=flow, queue=queue)
            for task_run_id, attempt, task_id, task_type in attempts]


def _attempt_of(ref: TaskRunRef) -> list[str | int]:
    return [ref.task_run_id, ref.attempt, ref.task_id, ref.task_type]
