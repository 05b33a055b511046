"""L3: what expressions rendered outside a task may reach (``ExpressionIO`` for the executor).

The executor renders flowable properties (If conditions, ForEach values, Subflow inputs...),
``execution.Labels``, flow outputs and input defaults. Those may call ``kv()``, ``read()``,
``fileSize()``, ``fileExists()`` and ``now()`` as in a task. ``secret()`` is refused here: a
value rendered by the executor is stored as is (labels, outputs), so a secret would be kept in
clear; read secrets in a runnable task, whose logs and outputs are masked.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.storage import uris
from engine.storage.base import SCHEME
from engine.templating import ExpressionError

if TYPE_CHECKING:
    from engine.services.runtime import Env


class ExecutorIO:
    def __init__(self, env: "Env", namespace: str | None) -> None:
        self._env, self._namespace = env, namespace

    def secret(self, key: str) -> str:
        raise ExpressionError(f"secret('{key}') is not available in flow outputs, labels or flowable task "
                              "properties (the executor would store its value in clear); use it in a "
                              "runnable task, whose logs and outputs are masked")

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        entry = self._env.kv.get_any(namespace, key)
        if entry is None or entry.is_expired(self._env.clock()):
            if error_on_missing:
                state = "has expired" if entry is not None else "does not exist"
                raise LookupError(f"kv('{key}'): the key {state} in namespace '{namespace}'")
            return None
        return entry.value

    def read(self, path: str) -> str:
        return self._env.storage.get(self._uri(path)).decode("utf-8")

    def file_size(self, path: str) -> int:
        return self._env.storage.size(self._uri(path))

    def file_exists(self, path: str) -> bool:
        return self._env.storage.exists(self._uri(path))

    def now(self) -> datetime:
        return self._env.clock()

    def encryption_key(self) -> bytes | None:
        return self._env.encryption_key

    def _uri(self, path: str) -> str:
        """A kestra:// URI as is; any other path is a namespace file of the flow's namespace."""
        if path.startswith(SCHEME):
            return path
        if self._namespace is None:
            raise ExpressionError(f"'{path}' is not a kestra:// URI and no namespace is known here")
        return uris.namespace_file_uri(self._namespace, path)
