"""L2 adapter: what ``{{ expressions }}`` rendered for a task may reach, through its run context.

Implements ``engine.templating.io.ExpressionIO``: ``secret()`` goes through the context (so the
value is masked from then on), ``kv()`` reads the namespace KV store, ``read()`` / ``fileSize()`` /
``fileExists()`` read internal storage, ``now()`` is the context's clock.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.model.task import LogLevel
from engine.storage import uris
from engine.storage.base import SCHEME

if TYPE_CHECKING:  # the context imports this module; the type is only needed by the checker
    from engine.tasks.context import RunContext


class RunContextIO:
    def __init__(self, ctx: "RunContext", encryption_key: bytes | None = None) -> None:
        self._ctx, self._key = ctx, encryption_key

    def secret(self, key: str) -> str:
        return self._ctx.secret(key)

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        entry = self._ctx.kv.get(namespace, key)
        if entry is None or entry.is_expired(self._ctx.now()):
            if error_on_missing:
                state = "has expired" if entry is not None else "does not exist"
                raise LookupError(f"kv('{key}'): the key {state} in namespace '{namespace}'")
            return None
        return entry.value

    def read(self, path: str) -> str:
        return self._ctx.storage.get(self._uri(path)).decode("utf-8")

    def file_size(self, path: str) -> int:
        return self._ctx.storage.size(self._uri(path))

    def file_exists(self, path: str) -> bool:
        return self._ctx.storage.exists(self._uri(path))

    def now(self) -> datetime:
        return self._ctx.now()

    def encryption_key(self) -> bytes | None:
        return self._key

    def error_logs(self) -> list[dict[str, Any]]:
        """The ERROR logs of the current execution (``errorLogs()``), oldest first."""
        identity = self._ctx.identity
        found = self._ctx.log_reader.find(identity.namespace, identity.flow_id, identity.execution_id,
                                          task_id=None, min_level=LogLevel.ERROR)
        return [dict(entry) for entry in found]

    def _uri(self, path: str) -> str:
        """A kestra:// URI as is; any other path is a namespace file of the flow's namespace."""
        if path.startswith(SCHEME):
            return path
        return uris.namespace_file_uri(self._ctx.namespace, path)
