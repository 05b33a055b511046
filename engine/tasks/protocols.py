"""L1 pure core: what a run context needs from the rest of Podium, as small protocols.

Each collaborator is implemented by whoever owns the resource (persistence for KV, logs and
executions; templating for rendering; the services for triggers) and handed to
:class:`engine.tasks.context.RunContext`. Keeping them here, next to the tasks that use them, lets
a test build a real context from in-memory implementations without a database.

The last two protocols are the context seen from below: what the property helpers
(``engine.tasks.props``) and the expressions' I/O (``engine.tasks.expression_io``) use of it. They
take these rather than the context itself, so the context can build them without an import cycle.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from engine.model.task import LogLevel
from engine.storage.access import FileAccess
from engine.storage.base import Storage
from engine.storage.scopes import ReaderScope
from engine.tasks.masking import Masker, SecretPatterns


class Renderer(Protocol):
    """The templating engine (``engine.templating.Renderer``)."""

    def render_value(self, value: Any, context: Mapping[str, Any], *, typed: bool = False) -> Any:
        """Renders every string in ``value`` (recursively through dicts and lists).

        With ``typed=True`` a string that is one expression keeps the expression's type
        (``"{{ 1 + 1 }}"`` gives 2), as Kestra's ``renderTyped``.
        """


@dataclass(frozen=True)
class KVEntry:
    """A stored key-value pair, Kestra's ``KVValueAndMetadata``."""

    key: str
    value: Any
    expiration_date: datetime | None = None
    description: str | None = None
    # Kestra's KVType name (STRING, NUMBER, DURATION...) when the writer knows it (kv.Set's
    # kvType); None lets the store infer it from the value. Not part of equality.
    type: str | None = field(default=None, compare=False)

    def is_expired(self, now: datetime) -> bool:
        return self.expiration_date is not None and self.expiration_date <= now


class KVStore(Protocol):
    """Namespace key-value store. Expiry is decided by the caller, which owns the clock."""

    def get(self, namespace: str, key: str) -> KVEntry | None: ...

    def set(self, namespace: str, entry: KVEntry) -> None:
        """Creates or replaces ``entry.key`` in ``namespace``."""

    def delete(self, namespace: str, key: str) -> bool:
        """True when the key existed."""

    def namespaces(self, within: str) -> list[str]:
        """The namespaces holding at least one key among ``within`` and its children, sorted."""

    def list(self, namespace: str, prefix: str | None = None) -> list[KVEntry]:
        """Entries of ``namespace`` (expired ones included), sorted by key."""


@dataclass(frozen=True)
class StateKey:
    """Identifies one legacy state document (``state.Set/Get/Delete``)."""

    namespace: str
    flow_id: str | None      # None when the state is shared by the whole namespace
    name: str
    value: str | None        # the task run value, when states are kept per iteration


class StateStore(Protocol):
    def get(self, key: StateKey) -> dict[str, Any] | None: ...

    def put(self, key: StateKey, data: dict[str, Any]) -> str:
        """Stores the document; returns where (a ``kestra://`` URI for the storage-backed store)."""

    def delete(self, key: StateKey) -> bool: ...


class LogReader(Protocol):
    """Reads stored logs (``log.Fetch``); each log is a JSON-ready dict in Kestra's LogEntry shape."""

    def find(self, namespace: str, flow_id: str, execution_id: str, *, task_id: str | None,
             min_level: LogLevel) -> Iterable[Mapping[str, Any]]: ...


class ExecutionControl(Protocol):
    """Operations a task may ask of other executions (``execution.Resume``)."""

    def resume(self, namespace: str, flow_id: str, execution_id: str,
               inputs: Mapping[str, Any] | None) -> None:
        """Resumes a PAUSED execution; raises LookupError / ValueError with a user-facing message."""


class SecretSource(Protocol):
    def get(self, name: str) -> str | None:
        """The decoded secret ``name``, or None when there is none."""

    def values(self) -> Iterable[str]:
        """Every known secret value (masked in logs and outputs)."""

    @property
    def patterns(self) -> SecretPatterns:
        """What masking looks for in every value, computed once for the source (it costs
        milliseconds; a run context is built for every attempt)."""


class TriggerControl(Protocol):
    """What ``trigger.Toggle`` needs from the rest of Podium (the services' ``TriggerSwitch``)."""

    def set_enabled(self, namespace: str, flow_id: str, trigger_id: str, enabled: bool) -> None:
        """Enables or disables the trigger; raises LookupError (user-facing message) when the
        flow or the trigger does not exist."""


class PropertyRenderer(Protocol):
    """Renders a task's dynamic property (the run context's ``render``)."""

    def render(self, value: Any, typed: bool = False) -> Any: ...


class ExpressionHost(Protocol):
    """What a task's ``{{ expressions }}`` reach through its run context: files, KV, secrets,
    the clock and the execution's logs."""

    @property
    def storage(self) -> Storage: ...

    @property
    def files(self) -> FileAccess:
        """The files expressions may name by URI, checked for :attr:`file_scope`."""

    @property
    def file_scope(self) -> ReaderScope:
        """Who reads: this task run's execution and the one that started it."""

    @property
    def namespace(self) -> str: ...

    @property
    def flow_id(self) -> str: ...

    @property
    def execution_id(self) -> str: ...

    @property
    def kv(self) -> KVStore: ...

    @property
    def log_reader(self) -> LogReader: ...

    def now(self) -> datetime: ...

    def secret(self, name: str) -> str: ...

    @property
    def masker(self) -> Masker:
        """What this task run masks in its logs and outputs (``secret(key, subkey=...)`` adds to it)."""
