"""L2 adapter: what ``{{ expressions }}`` may reach: :class:`StorageIO` for any renderer, and
:class:`RunContextIO` for a task, through its run context.

Implements ``engine.templating.io.ExpressionIO``: ``secret()`` goes through the context (so the
value is masked from then on), ``kv()`` reads the namespace KV store, ``read()`` / ``fileSize()`` /
``fileExists()`` read the files the reader may read (engine/storage/access.py: ``kestra://``,
``nsfile://``, ``file://`` URIs, or a path of a namespace file), ``now()`` is the context's clock,
``http()`` makes its request (engine/tasks/expression_http.py).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from engine.model.task import LogLevel
from engine.storage.access import NSFILE, FileAccess, FileRefused, looks_like_uri
from engine.storage.base import StoragePathError
from engine.storage.scopes import ReaderScope
from engine.tasks.protocols import ExpressionHost
from engine.templating import ExpressionError
from engine.templating.http_call import HttpCall

_T = TypeVar("_T")


class StoredValue(Protocol):
    """A KV entry as a lookup returns it, expired or not: the caller owns the clock."""

    @property
    def value(self) -> Any: ...

    def is_expired(self, now: datetime) -> bool: ...


class StorageIO:
    """``kv()``, ``read()``, ``fileSize()``, ``fileExists()`` and ``now()`` over the files a reader may
    read and a KV lookup: what an expression may reach, whether a task or the executor renders it.

    ``scope`` says, at call time, who reads (the task run's execution, or the execution the executor
    is stepping)."""

    def __init__(self, files: FileAccess, scope: Callable[[], ReaderScope], clock: Callable[[], datetime],
                 kv_lookup: Callable[[str, str], StoredValue | None],
                 encryption_key: bytes | None = None) -> None:
        self._files, self._scope, self._clock = files, scope, clock
        self._kv_lookup, self._key = kv_lookup, encryption_key

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        entry = self._kv_lookup(namespace, key)
        if entry is None or entry.is_expired(self._clock()):
            if error_on_missing:
                state = "has expired" if entry is not None else "does not exist"
                raise ExpressionError(f"The key '{key}' {state} in the namespace '{namespace}'; use "
                                      f"kv('{key}', errorOnMissing=false) to get null instead")
            return None
        return entry.value

    def http(self, call: HttpCall) -> Any:
        """``http()``: the response body (docs/expressions.md, *http()*)."""
        # httpx costs a third of a second to import: only the renders that call http() pay it
        from engine.tasks import expression_http

        return expression_http.send(call)

    def read(self, path: str) -> str:
        return self._with_file(path, self._files.read).decode("utf-8")

    def file_size(self, path: str) -> int:
        return self._with_file(path, self._files.size)

    def file_exists(self, path: str) -> bool:
        return self._with_file(path, self._files.exists)

    def now(self) -> datetime:
        return self._clock()

    def encryption_key(self) -> bytes | None:
        return self._key

    def _with_file(self, path: str, use: Callable[[str, ReaderScope], _T]) -> _T:
        """``use`` on the file ``path`` names, for this reader; a refusal is the expression's error
        (the renderer adds the expression, which names the function)."""
        try:
            return use(self._ref(str(path)), self._scope())
        except (FileRefused, StoragePathError) as err:
            raise ExpressionError(str(err)) from None

    @staticmethod
    def _ref(path: str) -> str:
        """A URI as it is; a path without a scheme is a namespace file of the reader's namespace
        (Kestra's ``read('path')``); any other scheme is refused by FileAccess."""
        return path if looks_like_uri(path) else NSFILE + "/" + path.lstrip("/")


class RunContextIO(StorageIO):
    """The expressions' I/O of one task run, bound to its run context."""

    def __init__(self, ctx: ExpressionHost, encryption_key: bytes | None = None) -> None:
        # The KV store is looked up lazily: a task that never calls kv() needs none.
        super().__init__(ctx.files, lambda: ctx.file_scope, ctx.now, lambda ns, key: ctx.kv.get(ns, key),
                         encryption_key)
        self._ctx = ctx

    def secret(self, key: str) -> str:
        return self._ctx.secret(key)

    def register_secret(self, value: str) -> None:
        """Masks ``value`` (a member of a JSON secret) in this task run's logs and outputs."""
        self._ctx.masker.add(value)

    def error_logs(self) -> list[dict[str, Any]]:
        """The ERROR logs of the current execution (``errorLogs()``), oldest first."""
        ctx = self._ctx
        found = ctx.log_reader.find(ctx.namespace, ctx.flow_id, ctx.execution_id, task_id=None,
                                    min_level=LogLevel.ERROR)
        return [dict(entry) for entry in found]
