"""L3: a dispatcher that runs everything in the calling thread, for tests and debugging.

It queues what the services hand it and runs it when :meth:`InlineDispatcher.drain` is called,
through the same ``Services`` methods the Celery tasks call, so a whole flow runs in
milliseconds without a broker (dramatiq's StubBroker and huey's immediate mode are the models).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from engine.dispatch import TaskRunRef


class _Services(Protocol):
    def handle_event(self, execution_id: str, event: dict[str, Any]) -> None: ...

    def run_task_run(self, ref: TaskRunRef, carried: Mapping[str, Any] | None = None) -> Any: ...


class InlineDispatcher:
    # Events run one at a time in the order they were sent, so a worker never has to wait for
    # the executor to catch up (it could not: nothing runs until the current step returns).
    delivers_in_order = True

    def __init__(self) -> None:
        self._services: _Services | None = None
        self._queue: deque[Callable[[_Services], None]] = deque()
        self.killed: list[TaskRunRef] = []

    def bind(self, services: _Services) -> None:
        self._services = services

    def dispatch_task_runs(self, refs: Sequence[TaskRunRef], *, chain: bool = False, spread: bool = False,
                           join: TaskRunRef | None = None) -> None:
        # A join is left to the executor, which sends it once the fan-out ended (as it would if
        # a worker had not claimed it): each attempt here runs on its own, not in a chunk.
        if chain and len(refs) > 1:
            links = tuple(refs)
            self._queue.append(lambda s: self._run_link(s, links, None))
            return
        for ref in refs:
            self._queue.append(lambda s, ref=ref: s.run_task_run(ref))

    def _run_link(self, services: _Services, links: tuple[TaskRunRef, ...], carried: Any) -> None:
        """A chain, as Celery runs it: the next link is queued only after this one returned a
        result (not False), and receives it; the events this link sent are queued before it."""
        result = services.run_task_run(links[0]) if carried is None else services.run_task_run(links[0], carried)
        if result is False or len(links) == 1:
            return
        passed = result if isinstance(result, dict) else None
        self._queue.append(lambda s: self._run_link(s, links[1:], passed))

    def send_event(self, execution_id: str, event: dict[str, Any]) -> None:
        self._queue.append(lambda s: s.handle_event(execution_id, event))

    def kill_task_runs(self, refs: Sequence[TaskRunRef]) -> None:
        self.killed.extend(refs)

    def drain(self, limit: int = 100_000) -> int:
        """Runs queued work, and the work it queues, until none is left; returns the count."""
        if self._services is None:
            raise RuntimeError("InlineDispatcher.bind(services) was not called")
        done = 0
        while self._queue:
            if done >= limit:
                raise RuntimeError(f"more than {limit} queued steps: is a flow looping forever?")
            self._queue.popleft()(self._services)
            done += 1
        return done
