"""L2 adapter: ``RunContext``, a runnable task's only door to the world (Kestra's RunContext).

A context is built from explicit collaborators (renderer, variables, storage, KV store, state
store, log sink, clock, secrets...) so that the Celery worker, the embedded mode and the tests
build it the same way. Tasks render their dynamic properties, log, read and write files, and
reach KV or other executions only through it.

It is used for one attempt of one task run; :meth:`RunContext.close` (or ``with ctx:``) removes
its working directory.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from engine.errors import PodiumError
from engine.model.task import LogLevel
from engine.plugins.base import Registry
from engine.storage import uris
from engine.storage.access import FileAccess
from engine.storage.base import Storage
from engine.storage.scopes import ReaderScope
from engine.tasks.expression_io import RunContextIO
from engine.tasks.kv_access import NamespaceKV
from engine.tasks.logger import LogEntry, LogSink, TaskLogger
from engine.tasks.masking import Masker
from engine.tasks.outcome import Metric
from engine.tasks.protocols import (
    ExecutionControl,
    KVStore,
    LogReader,
    Renderer,
    SecretSource,
    StateStore,
    TriggerControl,
)
from engine.tasks.script_runner import ScriptDefaults
from engine.tasks.state_store import StorageStateStore

_Collaborator = TypeVar("_Collaborator")
#: Stores the metrics one task run attempt reported (the worker's metrics repository).
MetricsSink = Callable[["RunIdentity", tuple[Metric, ...]], None]


def safe_relative_path(name: str) -> str:
    """``name`` as a relative path that stays inside its folder: no '..', '.', empty part or NUL."""
    parts = [part for part in name.replace("\\", "/").replace("\0", "").split("/")
             if part not in ("", ".", "..")]
    return "/".join(parts) or "file"


class MissingCollaborator(PodiumError, RuntimeError):
    """A task needs a service (KV store, log reader...) this process was not given."""


class SecretNotFound(PodiumError, LookupError):
    pass


@dataclass(frozen=True)
class RunIdentity:
    """Which task run this context runs: the names a log line, a file or a state is filed under."""

    namespace: str
    flow_id: str
    execution_id: str
    task_id: str
    task_run_id: str
    value: str | None = None          # taskrun.value (ForEach iteration), if any
    attempt: int = 1
    flow_revision: int | None = None
    tenant_id: str | None = None


def _bind_renderer(renderer: Renderer | Callable[[RunContextIO], Renderer], io: RunContextIO) -> Renderer:
    """A ready renderer is used as is; a class or factory is built with the context's I/O."""
    if hasattr(renderer, "render_value") and not isinstance(renderer, type):
        return renderer
    return renderer(io)


class RunContext:
    def __init__(self, *, identity: RunIdentity, variables: Mapping[str, Any],
                 renderer: Renderer | Callable[[RunContextIO], Renderer],
                 storage: Storage, log_sink: LogSink, clock: Callable[[], datetime],
                 kv: KVStore | None = None, state_store: StateStore | None = None,
                 secrets: SecretSource | None = None, log_level: LogLevel | None = None,
                 log_reader: LogReader | None = None, executions: ExecutionControl | None = None,
                 registry: Registry | None = None, cancel_event: threading.Event | None = None,
                 temp_root: str | None = None, working_dir: str | os.PathLike[str] | None = None,
                 encryption_key: bytes | None = None, triggers: TriggerControl | None = None,
                 files: FileAccess | None = None, scripts: ScriptDefaults | None = None,
                 metrics_sink: MetricsSink | None = None) -> None:
        """Builds the context of one attempt of one task run.

        Args:
            identity: namespace, flow, execution, task and task run ids.
            variables: the template variables of this task run (``engine.variables.build_variables``).
            renderer: the templating engine, or a factory taking the expressions' I/O (pass
                ``engine.templating.Renderer`` itself: it is built with a :class:`RunContextIO`
                bound to this context, so ``secret()`` in an expression gets masked).
            storage: internal storage (``kestra://`` files).
            log_sink: receives every log line, already masked and filtered by ``log_level``.
            clock: returns the current time (UTC, timezone-aware); never read elsewhere.
            kv: namespace key-value store (``kv.*`` tasks).
            state_store: legacy state documents (``state.*`` tasks); storage-backed when omitted.
            secrets: secret values, each masked in logs and outputs.
            log_level: the task's ``logLevel``: lower levels are dropped.
            log_reader / executions: stored logs (``log.Fetch``) / other executions (``execution.Resume``).
            registry: the plugin registry (``templating.TemplatedTask`` parses its spec with it).
            cancel_event: set by the worker on kill or timeout; long tasks stop early when set.
            temp_root: parent folder of the working directory (the system temp dir by default).
            working_dir: a folder shared with other task runs (WorkingDirectory children); it
                is used as is and not deleted by :meth:`close`.
            encryption_key: the AES key of ``encrypt()``/``decrypt()`` in expressions, if any.
            triggers: enables and disables triggers (``trigger.Toggle``).
            files: the files tasks and expressions name by URI (``kestra://``, ``nsfile://``,
                ``file://``), each checked for this task run's execution; on ``storage`` with no
                host folder allowed when omitted.
            scripts: the worker's settings for script tasks (default runner, Docker host, cache).
            metrics_sink: stores the metrics the task reported, once, when the context closes.
        """
        self.identity, self.variables, self.storage = identity, variables, storage
        self.files = files if files is not None else FileAccess(storage)
        self._clock, self._secrets = clock, secrets
        self._renderer = _bind_renderer(renderer, RunContextIO(self, encryption_key))
        self._kv, self._log_reader, self._executions = kv, log_reader, executions
        self._triggers = triggers
        self.registry = registry
        self.cancel_event = cancel_event or threading.Event()
        self.masker = Masker(secrets.patterns if secrets is not None else ())
        self.logger = TaskLogger(log_sink, self.masker, clock, self._stamp, log_level)
        self.metrics: list[Metric] = []
        self.scripts = scripts if scripts is not None else ScriptDefaults()
        self._metrics_sink = metrics_sink
        self._temp_root = temp_root
        self._shared_dir = Path(working_dir) if working_dir is not None else None
        self._working_dir: Path | None = self._shared_dir
        self.state_store = state_store if state_store is not None else StorageStateStore(storage)

    # -- identity and time ----------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        return self.identity.namespace

    @property
    def flow_id(self) -> str:
        return self.identity.flow_id

    @property
    def execution_id(self) -> str:
        return self.identity.execution_id

    @property
    def task_id(self) -> str:
        return self.identity.task_id

    @property
    def task_run_id(self) -> str:
        return self.identity.task_run_id

    def now(self) -> datetime:
        return self._clock()

    @cached_property
    def file_scope(self) -> ReaderScope:
        """Who reads files here: this execution (and the one it copies), the one that started it;
        built on the first file read, from the variables the engine built (``execution``, ``trigger``)."""
        execution, trigger = self.variables.get("execution"), self.variables.get("trigger")
        ident = self.identity
        return ReaderScope.of_execution(
            ident.namespace, ident.flow_id, ident.execution_id,
            original_id=execution.get("originalId") if isinstance(execution, Mapping) else None,
            trigger=trigger if isinstance(trigger, Mapping) else None)

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    # -- rendering ------------------------------------------------------------------------------
    def render(self, value: Any, typed: bool = False, extra: Mapping[str, Any] | None = None) -> Any:
        """Renders the strings in ``value`` (recursively) with this task run's variables, and
        ``extra`` ones over them (a script task's ``workingDir`` and ``outputDir``)."""
        if value is None:
            return None
        variables = self.variables if not extra else {**self.variables, **extra}
        return self._renderer.render_value(value, variables, typed=typed)

    def render_text(self, value: Any) -> str | None:
        """Renders ``value`` to a string (None stays None)."""
        rendered = self.render(value)
        return None if rendered is None else str(rendered)

    # -- secrets ----------------------------------------------------------------------------------
    def secret(self, name: str) -> str:
        """The secret ``name``; its value is masked from now on in logs and outputs."""
        value = self._secrets.get(name) if self._secrets is not None else None
        if value is None:
            raise SecretNotFound(f"secret '{name}' not found: set the environment variable "
                                 f"SECRET_{name.upper()} to its base64-encoded value")
        self.masker.add(value)
        return value

    # -- collaborators --------------------------------------------------------------------------
    @property
    def kv(self) -> KVStore:
        return NamespaceKV(self._need(self._kv, "a KV store", "kv.* tasks"), self.namespace)

    @property
    def log_reader(self) -> LogReader:
        return self._need(self._log_reader, "a log reader", "log.Fetch")

    @property
    def executions(self) -> ExecutionControl:
        return self._need(self._executions, "execution control", "execution.Resume")

    @property
    def triggers(self) -> TriggerControl:
        return self._need(self._triggers, "trigger control", "trigger.Toggle")

    @staticmethod
    def _need(value: _Collaborator | None, what: str, who: str) -> _Collaborator:
        if value is None:
            raise MissingCollaborator(f"{who} need {what}, but this Podium process was started without "
                                      f"one; run the task on a worker built by `podium` services")
        return value

    # -- files ----------------------------------------------------------------------------------
    @property
    def working_dir(self) -> Path:
        """A private temporary folder for this task run, created on first use."""
        if self._working_dir is None:
            if self._temp_root:
                os.makedirs(self._temp_root, exist_ok=True)
            self._working_dir = Path(tempfile.mkdtemp(prefix=f"podium-{self.task_id}-", dir=self._temp_root))
        return self._working_dir

    def output_prefix(self) -> str:
        """``kestra:///{ns/as/path}/{flow}/executions/{exec}/tasks/{task}/{taskrun}/``."""
        ident = self.identity
        return uris.task_output_uri(ident.namespace, ident.flow_id, ident.execution_id, ident.task_id,
                                    ident.task_run_id, "_").rsplit("/", 1)[0] + "/"

    def execution_prefix(self) -> str:
        ident = self.identity
        return uris.execution_uri(ident.namespace, ident.flow_id, ident.execution_id) + "/"

    def put_output_file(self, name: str, data: bytes | BinaryIO) -> str:
        """Stores ``data`` as ``name`` (may hold folders: ``sub/a.txt``) under this task run's
        output prefix; returns its URI."""
        parts = uris.segments(self.output_prefix()) + safe_relative_path(name).split("/")
        return self.storage.put(uris.from_segments(parts), data)

    def put_file(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Stores a local file (usually of the working directory) as an output file."""
        with open(path, "rb") as handle:
            return self.put_output_file(name or Path(path).name, handle)

    def read_file(self, uri: str) -> bytes:
        """The bytes of the file ``uri`` names (``kestra://``, ``nsfile://``, ``file://``); FileRefused
        if this task run's execution may not read it (engine/storage/scopes.py)."""
        return self.files.read(uri, self.file_scope)

    def open_file(self, uri: str) -> BinaryIO:
        return self.files.open(uri, self.file_scope)

    def file_size(self, uri: str) -> int:
        return self.files.size(uri, self.file_scope)

    def delete_file(self, uri: str) -> bool:
        """Deletes an internal-storage file of this execution or of its namespace; False if absent."""
        return self.storage.delete(self.files.deletable(uri, self.file_scope))

    # -- metrics and lifecycle ------------------------------------------------------------------
    def metric(self, name: str, value: float, type: str = "counter", **tags: str) -> None:  # noqa: A002 - Kestra's metric field name
        self.metrics.append(Metric(name, value, type, dict(tags)))

    def close(self) -> None:
        if self._metrics_sink is not None and self.metrics:
            sink, self._metrics_sink = self._metrics_sink, None
            sink(self.identity, tuple(self.metrics))
        if self._working_dir is not None and self._working_dir != self._shared_dir:
            shutil.rmtree(self._working_dir, ignore_errors=True)
            self._working_dir = None

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stamp(self, level: LogLevel, message: str, when: datetime) -> LogEntry:
        ident = self.identity
        return LogEntry(level=level, message=message, timestamp=when, namespace=ident.namespace,
                        flow_id=ident.flow_id, execution_id=ident.execution_id, task_id=ident.task_id,
                        task_run_id=ident.task_run_id, attempt_number=ident.attempt)
