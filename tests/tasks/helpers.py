"""Test building blocks for runnable tasks: real in-memory implementations of the run-context
protocols, and ``World.context`` to build a real RunContext (real Renderer, LocalStorage in a
temp dir, env-style secrets, a settable clock).

``InMemoryKVStore``, ``InMemoryLogReader`` and ``InMemoryExecutions`` are complete, real
implementations of ``engine.tasks.protocols`` kept in dicts and lists (not mocks).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.model.task import LogLevel
from engine.plugins.registry import default_registry
from engine.storage.access import FileAccess
from engine.storage.local import LocalStorage
from engine.tasks.context import RunContext, RunIdentity
from engine.tasks.logger import LEVEL_ORDER, LogEntry
from engine.tasks.protocols import KVEntry
from engine.tasks.secrets import EnvSecrets
from engine.templating import Renderer


class InMemoryKVStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], KVEntry] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> KVEntry | None:
        return self._data.get((namespace, key))

    def set(self, namespace: str, entry: KVEntry) -> None:
        with self._lock:
            self._data[(namespace, entry.key)] = entry

    def delete(self, namespace: str, key: str) -> bool:
        with self._lock:
            return self._data.pop((namespace, key), None) is not None

    def namespaces(self, within: str) -> list[str]:
        return sorted({ns for ns, _ in self._data if ns == within or ns.startswith(within + ".")})

    def list(self, namespace: str, prefix: str | None = None) -> list[KVEntry]:
        return sorted((e for (ns, k), e in self._data.items()
                       if ns == namespace and k.startswith(prefix or "")), key=lambda e: e.key)


class InMemoryLogReader:
    """Reads the LogEntry list a test's log sink filled."""

    def __init__(self, logs: list[LogEntry]) -> None:
        self._logs = logs

    def find(self, namespace: str, flow_id: str, execution_id: str, *, task_id: str | None,
             min_level: LogLevel) -> Iterable[Mapping[str, Any]]:
        return [log.to_json() for log in self._logs
                if (log.namespace, log.flow_id, log.execution_id) == (namespace, flow_id, execution_id)
                and (task_id is None or log.task_id == task_id)
                and LEVEL_ORDER[log.level] >= LEVEL_ORDER[min_level]]


@dataclass
class InMemoryExecutions:
    """Paused executions by id; ``resume`` records the inputs and marks them RUNNING."""

    paused: dict[str, tuple[str, str]] = field(default_factory=dict)
    resumed: dict[str, Any] = field(default_factory=dict)

    def resume(self, namespace: str, flow_id: str, execution_id: str,
               inputs: Mapping[str, Any] | None) -> None:
        if self.paused.get(execution_id) != (namespace, flow_id):
            raise LookupError(f"no paused execution '{execution_id}' in flow '{namespace}.{flow_id}'")
        del self.paused[execution_id]
        self.resumed[execution_id] = dict(inputs or {})


FIXED_NOW = datetime(2024, 12, 20, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock: tests move time instead of sleeping."""

    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """Everything a test context is built on, kept so tests can look at it afterwards."""

    storage: LocalStorage
    kv: InMemoryKVStore = field(default_factory=InMemoryKVStore)
    logs: list[LogEntry] = field(default_factory=list)
    executions: InMemoryExecutions = field(default_factory=InMemoryExecutions)
    clock: Clock = field(default_factory=Clock)
    environ: dict[str, str] = field(default_factory=dict)
    registry: Any = field(default_factory=default_registry)

    def context(self, task_id: str = "task", *, variables: Mapping[str, Any] | None = None,
                value: str | None = None, log_level: LogLevel | None = None,
                flow_id: str = "flow", namespace: str = "company.team",
                execution_id: str = "exec1", task_run_id: str | None = None,
                files: FileAccess | None = None) -> RunContext:
        identity = RunIdentity(namespace=namespace, flow_id=flow_id, execution_id=execution_id,
                               task_id=task_id, task_run_id=task_run_id or f"{task_id}-run", value=value)
        base = {"flow": {"id": flow_id, "namespace": namespace}, "execution": {"id": execution_id},
                "task": {"id": task_id}, "taskrun": {"id": identity.task_run_id, "value": value}}
        return RunContext(identity=identity, variables={**base, **(variables or {})},
                          renderer=Renderer, storage=self.storage, log_sink=self.logs.append,
                          clock=self.clock, kv=self.kv, secrets=EnvSecrets(self.environ),
                          log_level=log_level, log_reader=InMemoryLogReader(self.logs),
                          executions=self.executions, registry=self.registry, files=files)

    def messages(self, level: LogLevel | None = None) -> list[str]:
        return [log.message for log in self.logs if level is None or log.level == level]
