"""L3: the collaborators every service uses, built once per process from the settings."""
from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.dispatch import Dispatcher
from engine.metrics import MetricsRecorder
from engine.persistence.backfills import BackfillRepository
from engine.persistence.db import Database
from engine.persistence.executions import ExecutionRepository
from engine.persistence.flows import FlowRepository
from engine.persistence.joins import JoinRepository
from engine.persistence.kv import KVRepository
from engine.persistence.leader import LeaderRepository
from engine.persistence.leases import LeaseRepository
from engine.persistence.logs import LogRepository
from engine.persistence.pending_commands import PendingCommandRepository
from engine.persistence.timers import QueueRepository, TimerRepository
from engine.persistence.trigger_windows import TriggerWindowRepository
from engine.persistence.triggers import FiredRepository, TriggerStateRepository
from engine.plugins.base import Registry
from engine.settings import Settings
from engine.storage.local import LocalStorage
from engine.tasks.secrets import EnvSecrets
from engine.templating import Renderer

_RENDERERS = 256  # namespaces whose renderer is kept


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
    _renderers: dict[str | None, Renderer] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Read once at start-up, as Kestra does: a process sees the environment it started with.
        self.secrets = EnvSecrets(os.environ)
        prefix = self.settings.env_vars_prefix
        self.envs = {name[len(prefix):].lower(): value for name, value in os.environ.items()
                     if name.startswith(prefix)}
        self.flows = FlowRepository(self.db)
        self.executions = ExecutionRepository(self.db)
        self.logs = LogRepository(self.db)
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

    def renderer(self, namespace: str | None = None) -> Renderer:
        """The renderer of expressions outside tasks; ``namespace`` resolves ``read('path')``.

        One per namespace, kept: building one wraps every filter and function, and its cache of
        compiled templates is what makes the next event's expressions cheap.
        """
        from engine.services.expressions import ExecutorIO

        found = self._renderers.get(namespace)
        if found is None:
            if len(self._renderers) >= _RENDERERS:
                self._renderers.clear()
            found = self._renderers[namespace] = Renderer(ExecutorIO(self, namespace),
                                                          default_timezone=self.settings.timezone)
        return found

    @property
    def encryption_key(self) -> bytes | None:
        key = self.settings.encryption_key
        return base64.b64decode(key) if key else None
