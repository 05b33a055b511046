"""L3: the collaborators every service uses, built once per process from the settings."""
from __future__ import annotations

import base64
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.dispatch import Dispatcher
from engine.metrics import MetricsRecorder
from engine.model.execution import Execution
from engine.persistence import Database
from engine.persistence.backfills import BackfillRepository
from engine.persistence.executions import ExecutionRepository
from engine.persistence.flows import FlowRepository
from engine.persistence.joins import JoinRepository
from engine.persistence.kv_entries import KVRepository
from engine.persistence.leader import LeaderRepository
from engine.persistence.leases import LeaseRepository
from engine.persistence.logs import LogRepository
from engine.persistence.pending_commands import PendingCommandRepository
from engine.persistence.task_metrics import TaskMetricRepository
from engine.persistence.timers import QueueRepository, TimerRepository
from engine.persistence.trigger_windows import TriggerWindowRepository
from engine.persistence.triggers import FiredRepository, TriggerStateRepository
from engine.plugins.base import Registry
from engine.services.expressions import ExecutorIO, ReadingScopes, RendererCache
from engine.settings import Settings
from engine.storage.access import FileAccess
from engine.storage.local import LocalStorage
from engine.tasks.secrets import EnvSecrets
from engine.templating import ExpressionIO, ExpressionLimits, JqProcesses, Renderer
from engine.variables import env_variables


def utc_now() -> datetime:
    """The current UTC time at millisecond precision, as Kestra's Instant dates are."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class Env:
    settings: Settings
    db: Database
    registry: Registry
    storage: LocalStorage
    dispatcher: Dispatcher
    clock: Callable[[], datetime] = utc_now
    flows: FlowRepository = field(init=False)
    executions: ExecutionRepository = field(init=False)
    logs: LogRepository = field(init=False)
    task_metrics: TaskMetricRepository = field(init=False)
    kv: KVRepository = field(init=False)
    timers: TimerRepository = field(init=False)
    queue: QueueRepository = field(init=False)
    leases: LeaseRepository = field(init=False)
    joins: JoinRepository = field(init=False)
    pending_commands: PendingCommandRepository = field(init=False)
    trigger_states: TriggerStateRepository = field(init=False)
    fired: FiredRepository = field(init=False)
    trigger_windows: TriggerWindowRepository = field(init=False)
    backfills: BackfillRepository = field(init=False)
    leader: LeaderRepository = field(init=False)
    metrics: MetricsRecorder = field(init=False)
    secrets: EnvSecrets = field(init=False)
    envs: dict[str, str] = field(init=False)
    renderers: RendererCache = field(init=False)
    files: FileAccess = field(init=False)
    reading: ReadingScopes = field(init=False)
    jq: JqProcesses = field(init=False)

    def __post_init__(self) -> None:
        # Read once at start-up, as Kestra does: a process sees the environment it started with.
        self.secrets = EnvSecrets(os.environ)
        self.envs = env_variables(os.environ, self.settings.env_vars_prefix)
        self.flows = FlowRepository(self.db)
        self.executions = ExecutionRepository(self.db)
        self.logs = LogRepository(self.db)
        self.task_metrics = TaskMetricRepository(self.db)
        self.kv = KVRepository(self.db)
        self.timers = TimerRepository(self.db)
        self.queue = QueueRepository(self.db)
        self.leases = LeaseRepository(self.db)
        self.joins = JoinRepository(self.db)
        self.pending_commands = PendingCommandRepository(self.db)
        self.trigger_states = TriggerStateRepository(self.db)
        self.fired = FiredRepository(self.db)
        self.trigger_windows = TriggerWindowRepository(self.db)
        self.backfills = BackfillRepository(self.db)
        self.leader = LeaderRepository(self.db)
        self.metrics = MetricsRecorder(self.db, flush_seconds=self.settings.metrics_flush_seconds)
        self.files = FileAccess(self.storage, self.settings.local_files.allowed_paths,
                                find=lambda execution_id: self.executions.get_lineage(execution_id, []))
        self.reading = ReadingScopes()
        self.jq = JqProcesses(self.settings.expressions.jq_memory_mb)
        self.renderers = RendererCache(self._build_renderer)

    def renderer(self, namespace: str | None = None) -> Renderer:
        """The renderer of expressions outside tasks (one kept per namespace, ``RendererCache``);
        ``namespace`` resolves ``read('path')``; :meth:`reading_for` says which execution reads."""
        return self.renderers.get(namespace)

    def reading_for(self, execution: Execution) -> AbstractContextManager[None]:
        """Around a rendering of the executor's: ``read()`` and its kin read as ``execution``
        (its files, those of the execution that started it), not as its namespace alone."""
        return self.reading.reading_for(execution)

    def _build_renderer(self, namespace: str | None) -> Renderer:
        io = ExecutorIO(self.files, lambda: self.reading.current(namespace), self.clock,
                        self.kv.get_any, self.encryption_key, self.secrets)
        return self.new_renderer(io, redact=io.masker.mask)

    def new_renderer(self, io: ExpressionIO, redact: Callable[[Any], Any] | None = None) -> Renderer:
        """A renderer with the settings' expression limits, sharing this process's jq helpers;
        ``redact`` masks what a render that read a secret returns (the executor's renderers)."""
        limits = ExpressionLimits(**self.settings.expressions.model_dump())
        return Renderer(io, default_timezone=self.settings.timezone, limits=limits, jq=self.jq, redact=redact)

    @property
    def encryption_key(self) -> bytes | None:
        key = self.settings.encryption_key
        return base64.b64decode(key) if key else None
