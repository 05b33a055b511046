"""L2 adapter: what ``{{ expressions }}`` may reach: :class:`StorageIO` for any renderer, and
:class:`RunContextIO` for a task, through its run context.

Implements ``engine.templating.io.ExpressionIO``: ``secret()`` goes through the context (so the
value is masked from then on), ``kv()`` reads the namespace KV store, ``read()`` / ``fileSize()`` /
``fileExists()`` read internal storage, ``now()`` is the context's clock.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from engine.model.task import LogLevel
from engine.storage import uris
from engine.storage.base import SCHEME, Storage
from engine.tasks.protocols import ExpressionHost
from engine.templating import ExpressionError


class StoredValue(Protocol):
    """A KV entry as a lookup returns it, expired or not: the caller owns the clock."""

    @property
    def value(self) -> Any: ...

    def is_expired(self, now: datetime) -> bool: ...


class StorageIO:
    """``kv()``, ``read()``, ``fileSize()``, ``fileExists()`` and ``now()`` over internal storage and
    a KV lookup: what an expression may reach, whether a task or the executor renders it."""

    def __init__(self, storage: Storage, namespace: str | None, clock: Callable[[], datetime],
                 kv_lookup: Callable[[str, str], StoredValue | None],
                 encryption_key: bytes | None = None) -> None:
        self._storage, self._namespace, self._clock = storage, namespace, clock
        self._kv_lookup, self._key = kv_lookup, encryption_key

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        entry = self._kv_lookup(namespace, key)
        if entry is None or entry.is_expired(self._clock()):
            if error_on_missing:
                state = "has expired" if entry is not None else "does not exist"
                raise LookupError(f"kv('{key}'): the key {state} in namespace '{namespace}'")
            return None
        return entry.value

    def read(self, path: str) -> str:
        return self._storage.get(self._uri(path)).decode("utf-8")

    def file_size(self, path: str) -> int:
        return self._storage.size(self._uri(path))

    def file_exists(self, path: str) -> bool:
        return self._storage.exists(self._uri(path))

    def now(self) -> datetime:
        return self._clock()

    def encryption_key(self) -> bytes | None:
        return self._key

    def _uri(self, path: str) -> str:
        """A kestra:// URI as is; any other path is a namespace file of the flow's namespace."""
        if path.startswith(SCHEME):
            return path
        if self._namespace is None:
            raise ExpressionError(f"'{path}' is not a kestra:// URI and no namespace is known here")
        return uris.namespace_file_uri(self._namespace, path)


class RunContextIO(StorageIO):
    """The expressions' I/O of one task run, bound to its run context."""

    def __init__(self, ctx: ExpressionHost, encryption_key: bytes | None = None) -> None:
        # The KV store is looked up lazily: a task that never calls kv() needs none.
        super().__init__(ctx.storage, ctx.namespace, ctx.now, lambda ns, key: ctx.kv.get(ns, key),
                         encryption_key)
        self._ctx = ctx

    def secret(self, key: str) -> str:
        return self._ctx.secret(key)

    def error_logs(self) -> list[dict[str, Any]]:
        """The ERROR logs of the current execution (``errorLogs()``), oldest first."""
        ctx = self._ctx
        found = ctx.log_reader.find(ctx.namespace, ctx.flow_id, ctx.execution_id, task_id=None,
                                    min_level=LogLevel.ERROR)
        return [dict(entry) for entry in found]
