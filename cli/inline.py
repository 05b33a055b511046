"""A dispatcher that runs everything in the calling thread, for tests, benchmarks and debugging.

It queues what the services hand it and runs it when :meth:`InlineDispatcher.drain` is called,
through the same entry points the Celery tasks call (the executor's ``handle_event``, the
worker's ``run_task_run``), so a whole flow runs in milliseconds without a broker (dramatiq's
StubBroker and huey's immediate mode are the models). It plays the executor and the worker, so
it lives with the other composition of every process in one, the embedded runtime.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from engine.dispatch import TaskRunRef
from engine.services import Services
from executor.services import ExecutorServices
from worker.services import WorkerServices


class InlineDispatcher:
    # Events run one at a time in the order they were sent, so a worker never has to wait for
    # the executor to catch up (it could not: nothing runs until the current step returns).
    delivers_in_order = True

    def __init__(self) -> None:
        self._services: Services | None = None
        self._worker: WorkerServices | None = None
        self._executor: ExecutorServices | None = None
        self._queue: deque[Callable[[], None]] = deque()
        self.killed: list[TaskRunRef] = []

    def bind(self, services: Services | WorkerServices) -> None:
        """The services the queued work runs on (``build_services`` binds the shared ones)."""
        self._executor = None
        if isinstance(services, WorkerServices):
            self._services, self._worker = services.shared, services
        else:
            self._services, self._worker = services, None

    @property
    def executor(self) -> ExecutorServices:
        """The executor's services over the bound ones, built on first use."""
        if self._executor is None:
            self._executor = ExecutorServices(self._bound())
        return self._executor

    @property
    def worker(self) -> WorkerServices:
        """The worker's services over the bound ones, built on first use."""
        if self._worker is None:
            self._worker = WorkerServices(self._bound())
        return self._worker

    def dispatch_task_runs(self, refs: Sequence[TaskRunRef], *, chain: bool = False, spread: bool = False,
                           join: TaskRunRef | None = None) -> None:
        # A join is left to the executor, which sends it once the fan-out ended (as it would if
        # a worker had not claimed it): each attempt here runs on its own, not in a chunk.
        if chain and len(refs) > 1:
            links = tuple(refs)
            self._queue.append(lambda: self._run_link(links, None))
            return
        for ref in refs:
            self._queue.append(partial(self._run_one, ref))

    def _run_one(self, ref: TaskRunRef) -> None:
        self.worker.run_task_run(ref)

    def _run_link(self, links: tuple[TaskRunRef, ...], carried: dict[str, Any] | None) -> None:
        """A chain, as Celery runs it: the next link is queued only after this one returned a
        result (not False), and receives it; the events this link sent are queued before it."""
        worker = self.worker
        result = worker.run_task_run(links[0]) if carried is None else worker.run_task_run(links[0], carried)
        if result is False or len(links) == 1:
            return
        passed = result if isinstance(result, dict) else None
        self._queue.append(lambda: self._run_link(links[1:], passed))

    def send_event(self, execution_id: str, event: dict[str, Any]) -> None:
        self._queue.append(lambda: self.executor.handle_event(execution_id, event))

    def kill_task_runs(self, refs: Sequence[TaskRunRef]) -> None:
        self.killed.extend(refs)

    def drain(self, limit: int = 100_000) -> int:
        """Runs queued work, and the work it queues, until none is left; returns the count."""
        self._bound()
        done = 0
        while self._queue:
            if done >= limit:
                raise RuntimeError(f"more than {limit} queued steps: is a flow looping forever?")
            self._queue.popleft()()
            done += 1
        return done

    def _bound(self) -> Services:
        if self._services is None:
            raise RuntimeError("InlineDispatcher.bind(services) was not called")
        return self._services

