"""Test doubles for the services layer (the real ones are ``engine.services`` and ``worker.services``).

Each plays every process at once: the Celery tasks of the executor and of the worker call it directly
(``worker.services.worker_services`` leaves an object that runs task runs itself as it is).

``FakeServices`` records every call, thread-safely, and lets a test wait for a number of calls;
``RecordingServices`` appends one JSON line per call to a file, for workers in other processes.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.dispatch import Dispatcher, TaskRunRef


@dataclass
class Call:
    kind: str  # "run", "event", "kill", "timers", "reap"
    payload: Any
    thread: str = field(default_factory=lambda: threading.current_thread().name)


class OneAttemptPerMessage:
    """The batch entry points the Celery tasks call, running each attempt alone through the
    fake's ``run_task_run`` (no chain link runs the links after it)."""

    def run_links(self, refs: Sequence[TaskRunRef], carried: Any = None, is_killed: Any = None) -> tuple[Any, int]:
        run: Callable[..., Any] = self.run_task_run  # type: ignore[attr-defined]
        return (run(refs[0]) if carried is None else run(refs[0], carried)), 1

    def run_task_runs(self, refs: Sequence[TaskRunRef], is_killed: Any = None, join: Any = None) -> None:
        for ref in refs:
            self.run_task_run(ref)  # type: ignore[attr-defined]


class FakeServices(OneAttemptPerMessage):
    """Records calls; ``outcomes`` maps a task run id to what ``run_task_run`` returns."""

    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher = dispatcher
        self.calls: list[Call] = []
        self.outcomes: dict[str, Any] = {}
        self.on_run: Callable[[TaskRunRef], None] | None = None
        self._changed = threading.Condition()

    def _record(self, kind: str, payload: Any) -> None:
        with self._changed:
            self.calls.append(Call(kind, payload))
            self._changed.notify_all()

    def handle_event(self, execution_id: str, event: dict[str, Any]) -> None:
        self._record("event", (execution_id, event))

    def run_task_run(self, ref: TaskRunRef) -> Any:
        self._record("run", ref)
        if self.on_run is not None:
            self.on_run(ref)
        return self.outcomes.get(ref.task_run_id)

    def kill_local_task_runs(self, task_run_ids: list[str]) -> None:
        self._record("kill", list(task_run_ids))

    def fire_due_timers(self, now: datetime) -> int:
        self._record("timers", now)
        return 0

    def reap_expired_leases(self, now: datetime) -> int:
        self._record("reap", now)
        return 0

    def fire_schedules(self, now: datetime) -> int:
        self._record("schedules", now)
        return 0

    def advance_backfills(self, now: datetime, per_tick: int = 500) -> int:
        self._record("backfills", now)
        return 0

    def of_kind(self, kind: str) -> list[Any]:
        with self._changed:
            return [call.payload for call in self.calls if call.kind == kind]

    def wait_for(self, kind: str, count: int, timeout: float = 20.0) -> list[Any]:
        """Waits until ``count`` calls of ``kind`` arrived (a deadline, not a timing assertion)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._of_kind_locked(kind)) >= count, timeout)
            return self._of_kind_locked(kind)

    def _of_kind_locked(self, kind: str) -> list[Any]:
        return [call.payload for call in self.calls if call.kind == kind]


class RecordingServices(OneAttemptPerMessage):
    """Appends a JSON line per call to ``path`` (O_APPEND: lines from several processes don't mix)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps({**record, "pid": os.getpid()}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def handle_event(self, execution_id: str, event: dict[str, Any]) -> None:
        self._append({"kind": "event", "execution_id": execution_id, "event": event})

    def run_task_run(self, ref: TaskRunRef) -> None:
        self._append({"kind": "run", "ref": asdict(ref)})

    def kill_local_task_runs(self, task_run_ids: list[str]) -> None:
        """Nothing runs long enough here to be stopped."""

    def fire_due_timers(self, now: datetime) -> int:
        return 0

    def reap_expired_leases(self, now: datetime) -> int:
        return 0

    def fire_schedules(self, now: datetime) -> int:
        return 0

    def advance_backfills(self, now: datetime, per_tick: int = 500) -> int:
        return 0


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # Only complete lines: a worker may be in the middle of appending the last one.
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]
