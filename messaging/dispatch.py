"""L2: ``CeleryDispatcher``, the production :class:`engine.dispatch.Dispatcher`.

- ``dispatch_task_runs(refs)``: a fan-out, as ``podium.run_task_runs`` messages, each a *chunk* of
  its attempts cut by ``messaging.chunks`` (or ``podium.run_task_run`` ones when there are too few
  to share); ``spread=True`` for attempts a chunk gave back, which go out wider; ``join``, the
  task after the fan-out, rides in every chunk. With ``chain=True``, a Celery ``chain`` of
  ``podium.run_task_run``, so task N+1 starts on a worker right after N returned, without a round
  trip through the executor; links after the first are mutable: each receives what the previous
  link returned. How a worker runs chunks, chain links and joins is the batch/chunk/join
  protocol, told end to end in ``worker.batches``.
- ``send_event``: ``podium.process_event`` on the executor queue.
- ``kill_task_runs``: revoke + the ``podium_kill`` broadcast (see ``messaging.kills``).

Each signature goes to ``ref.queue`` (worker groups are queues) and gets a deterministic Celery
task id, ``celery_task_id(ref)``, so a kill can revoke it without any lookup.

A wide fan-out is published at a low priority (``messaging.chunks.bulk_priority``), and the
results of its task runs go to the executor at the priority their task run came with
(``EVENT_PRIORITY``, set by the worker's tasks), so other executions' work and events overtake
it. A fan-out waits only while such work keeps coming. The filesystem and memory brokers ignore
priorities (one process, one queue).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from amqp.exceptions import ChannelError
from celery import Celery, chain, group
from celery.canvas import Signature
from celery.worker import state as worker_state

from engine.dispatch import EXECUTOR_QUEUE, TaskRunRef
from messaging.chunks import CHUNKS, FIRST_CHUNKS, bulk_priority, chunk_kwargs, chunks
from messaging.kills import KILL_COMMAND, attempt_key, deliver_kill
from messaging.task_names import PROCESS_EVENT, RUN_TASK_RUN, RUN_TASK_RUNS


def celery_task_id(ref: TaskRunRef) -> str:
    """The Celery task id of a task run attempt: readable and unique per attempt."""
    return attempt_key(ref.task_run_id, ref.attempt)


def task_run_kwargs(ref: TaskRunRef) -> dict[str, Any]:
    return {"execution_id": ref.execution_id, "task_run_id": ref.task_run_id, "attempt": ref.attempt,
            "task_id": ref.task_id, "task_type": ref.task_type, "flow": ref.flow, "queue": ref.queue}


def priority_option(priority: int | None) -> dict[str, Any]:
    """A message's ``priority`` option, or none (the queue's default)."""
    return {} if priority is None else {"priority": priority}


def readable(kwargs: dict[str, Any], args: str = "()") -> dict[str, Any]:
    """How a message's arguments show in ``celery inspect`` and Flower, given to Celery ready-made:
    Celery's own ``saferepr`` of each message's arguments cost a tenth of a worker's CPU."""
    return {"argsrepr": args, "kwargsrepr": repr(kwargs)}


def event_summary(execution_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """A ``process_event`` message's arguments as ``celery inspect`` shows them: the event's type
    and the task run, attempt and state it is about, not its outputs."""
    about = {key: event[key] for key in ("task_run_id", "attempt_number", "state") if key in event}
    return {"execution_id": execution_id, "event": {"type": event.get("type"), **about}}


class CeleryDispatcher:
    """Sends Podium's messages through a Celery app (by task name: no task import needed)."""

    def __init__(self, app: Celery, *, batches: bool = True) -> None:
        self.app = app
        self.batches = batches  # worker.batch_seconds > 0: fan-outs go out in chunks

    def task_run_signature(self, ref: TaskRunRef, *, receives_previous: bool = False,
                           priority: int | None = None) -> Signature:
        kwargs = task_run_kwargs(ref)
        return self.app.signature(RUN_TASK_RUN, kwargs=kwargs, immutable=not receives_previous,
                                  queue=ref.queue, task_id=celery_task_id(ref),
                                  **readable(kwargs, "(<the outputs the previous links carry>,)" if receives_previous
                                             else "()"), **priority_option(priority))

    def chunk_signature(self, refs: Sequence[TaskRunRef], *, priority: int | None = None,
                        join: TaskRunRef | None = None) -> Signature:
        if len(refs) == 1 and join is None:
            return self.task_run_signature(refs[0], priority=priority)
        kwargs = chunk_kwargs(refs, join)
        # Its own id: revoking one attempt's id must not drop its siblings (kills: messaging/kills.py).
        return self.app.signature(RUN_TASK_RUNS, kwargs=kwargs, queue=refs[0].queue,
                                  task_id=f"{celery_task_id(refs[0])}+{len(refs) - 1}",
                                  **readable(kwargs), **priority_option(priority))

    def dispatch_task_runs(self, refs: Sequence[TaskRunRef], *, chain: bool = False, spread: bool = False,
                           join: TaskRunRef | None = None) -> None:
        if not refs:
            return
        if chain and len(refs) > 1:
            links = [self.task_run_signature(ref, receives_previous=index > 0) for index, ref in enumerate(refs)]
            _chain(*links).apply_async()
            return
        join = join if self.batches else None  # only chunks carry it: the executor sends it then
        if len(refs) == 1 and join is None:
            self.task_run_signature(refs[0]).apply_async()
            return
        priority = bulk_priority(refs)
        parts = chunks(refs, CHUNKS if spread else FIRST_CHUNKS) if self.batches else [[ref] for ref in refs]
        if len(parts) == 1:  # a group of one costs a group's bookkeeping for nothing
            self.chunk_signature(parts[0], priority=priority, join=join).apply_async()
            return
        # Groups of at most GROUP_SIZE: a 10,000-wide fan-out never holds 10,000 signatures at once.
        for start in range(0, len(parts), GROUP_SIZE):
            group([self.chunk_signature(part, priority=priority, join=join)
                   for part in parts[start:start + GROUP_SIZE]]).apply_async()

    def queue_depth(self, queue: str) -> int | None:
        """How many messages wait in ``queue``; None if the broker cannot say. Beat asks before it
        re-sends an attempt no worker claimed (engine/services/timers.py)."""
        try:
            with self._probe() as connection:
                return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:
            return 0  # never declared: nothing was ever sent to it
        except Exception:  # noqa: BLE001 - unknown is an answer: beat then re-sends as before
            return None

    def broker_incarnation(self) -> str | None:
        """Which run of the broker answers: Redis's ``run_id``, new at every start. Beat compares
        it from round to round: a Redis restarted without persistence lost every message it held
        (engine/services/timers.py). None if the broker cannot say (down, not Redis)."""
        try:
            with self._probe() as connection:
                client = getattr(connection.default_channel, "client", None)
                return None if client is None else str(client.info("server")["run_id"])
        except Exception:  # noqa: BLE001 - unknown is an answer: beat then waits for the next round
            return None

    @contextmanager
    def _probe(self) -> Iterator[Any]:  # a kombu Connection, which has no type hints
        """A connection for a question beat asks every round: one quick try. kombu's default
        retries for seconds, which a broker that is down would add to each of beat's rounds."""
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
            yield connection

    def send_event(self, execution_id: str, event: dict[str, Any]) -> None:
        self.app.signature(PROCESS_EVENT, kwargs={"execution_id": execution_id, "event": event},
                           queue=EXECUTOR_QUEUE, **readable(event_summary(execution_id, event)),
                           **priority_option(EVENT_PRIORITY.get())).apply_async()

    def kill_task_runs(self, refs: Sequence[TaskRunRef]) -> None:
        if not refs:
            return
        task_ids = [celery_task_id(ref) for ref in refs]
        task_run_ids = [ref.task_run_id for ref in refs]
        if self.app.conf.broker_url.startswith("memory://"):
            # Embedded: the worker shares this process and memory has no broadcast we can rely on.
            worker_state.revoked.update(task_ids)
            deliver_kill(self.app, task_run_ids, task_ids)
            return
        self.app.control.revoke(task_ids)
        self.app.control.broadcast(KILL_COMMAND, arguments={
            "task_run_ids": task_run_ids, "attempt_ids": task_ids,
            "execution_ids": sorted({ref.execution_id for ref in refs})})


#: The priority of the events this thread sends: that of the task run message it is running.
EVENT_PRIORITY: ContextVar[int | None] = ContextVar("podium_event_priority", default=None)
GROUP_SIZE = 500
_chain = chain  # the method parameter named ``chain`` shadows the canvas function
