"""Fixtures of the engine's integration suite: real services on a real database, run inline.

``services`` is built by ``build_services`` on the ``database_url`` fixture (SQLite and
PostgreSQL), bound to an :class:`InlineDispatcher` (which plays the worker too: ``engine.worker``),
with a :class:`FakeClock` the test moves (timers become due without sleeping). ``engine`` wraps
both with the few helpers every test needs: deploy a source, start and drain, fire the timers due
after a move of the clock.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.inline import InlineDispatcher
from engine.model.execution import Execution, TaskRun
from engine.services import Services, build_services
from engine.settings import Settings
from engine.state import State
from executor.services import ExecutorServices
from worker.services import WorkerServices

T0 = datetime(2024, 6, 3, 8, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when told to (millisecond precision, UTC)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@dataclass
class Engine:
    """The services plus their dispatcher and clock, with shortcuts for the tests."""

    services: Services
    dispatcher: InlineDispatcher
    clock: FakeClock

    @property
    def executor(self) -> ExecutorServices:
        """The executor's services over ``services``: an event applied by hand."""
        return self.dispatcher.executor

    @property
    def worker(self) -> WorkerServices:
        """The worker's services over ``services``: a chunk, a chain link, run by hand."""
        return self.dispatcher.worker

    def deploy(self, source: str) -> Any:
        return self.services.deploy_source(textwrap.dedent(source)).flow

    def start(self, namespace: str, flow_id: str, **kwargs: Any) -> Execution:
        """Starts an execution and runs it inline as far as it goes; returns it re-read."""
        created = self.services.start_execution(namespace, flow_id, **kwargs)
        self.dispatcher.drain()
        return self.services.get_execution(created.id)

    def run(self, source: str, **kwargs: Any) -> Execution:
        flow = self.deploy(source)
        return self.start(flow.namespace, flow.id, **kwargs)

    def get(self, execution_id: str) -> Execution:
        return self.services.get_execution(execution_id)

    def drain(self) -> int:
        return self.dispatcher.drain()

    def tick(self, **delta: float) -> int:
        """Moves the clock, fires the timers now due, and runs what they started."""
        self.clock.advance(**delta)
        fired = self.services.fire_due_timers(self.clock())
        self.drain()
        return fired

    def hold(self, *task_ids: str) -> Holding:
        return Holding(self.dispatcher, set(task_ids))

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        return self.services.execution_logs(execution_id)

    def messages(self, execution_id: str, task_id: str | None = None) -> list[str]:
        return [str(log["message"]) for log in self.logs(execution_id)
                if task_id is None or log.get("taskId") == task_id]


def runs(execution: Execution, task_id: str) -> list[TaskRun]:
    return [run for run in execution.task_run_list if run.task_id == task_id]


def one_run(execution: Execution, task_id: str) -> TaskRun:
    found = runs(execution, task_id)
    assert len(found) == 1, f"expected one task run of {task_id}, got {len(found)}"
    return found[0]


def states(execution: Execution) -> dict[str, State]:
    """Task id -> state (for flows where each task runs once)."""
    return {run.task_id: run.state.current for run in execution.task_run_list}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def services(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    built = build_services(settings, InlineDispatcher(), clock=clock)
    yield built
    built.env.db.dispose()


@pytest.fixture
def engine(services: Services, clock: FakeClock) -> Engine:
    dispatcher = services.env.dispatcher
    assert isinstance(dispatcher, InlineDispatcher)
    return Engine(services, dispatcher, clock)


class Holding:
    """Holds back the dispatch of some tasks' runs, as a busy broker or worker would.

    ``engine.hold("slow")`` makes the task runs of task ``slow`` wait (their attempt is
    created, the execution RUNNING) until ``release()`` hands them to the inline worker.
    """

    def __init__(self, dispatcher: InlineDispatcher, task_ids: set[str]) -> None:
        self.dispatcher, self.task_ids = dispatcher, task_ids
        self.held: list[Any] = []
        self.join: Any = None
        self._send = dispatcher.dispatch_task_runs
        dispatcher.dispatch_task_runs = self._dispatch  # type: ignore[method-assign]

    def _dispatch(self, refs: Any, *, chain: bool = False, spread: bool = False, join: Any = None) -> None:
        if join is not None:
            self.join = join  # the join of the last fan-out dispatched (engine/executor/joins.py)
        if chain:  # a chain runs up to its first held link; that link and the rest wait together
            cut = next((i for i, ref in enumerate(refs) if ref.task_id in self.task_ids), len(refs))
            self._send(list(refs[:cut]), chain=True)
            if cut < len(refs):
                self.held.append(tuple(refs[cut:]))
            return
        self.held += [ref for ref in refs if ref.task_id in self.task_ids]
        self._send([ref for ref in refs if ref.task_id not in self.task_ids], chain=chain)

    def release(self) -> None:
        held, self.held = self.held, []
        self._send([ref for ref in held if not isinstance(ref, tuple)])
        for links in (item for item in held if isinstance(item, tuple)):
            self._send(list(links), chain=True)
