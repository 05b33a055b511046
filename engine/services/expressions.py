"""L3: what expressions rendered outside a task may reach, and the renderers that render them.

The executor renders flowable properties (If conditions, ForEach values, Subflow inputs...),
``execution.Labels``, flow outputs and input defaults. Those may call ``kv()``, ``read()``,
``fileSize()``, ``fileExists()``, ``http()`` and ``now()`` as in a task, and ``secret()``: what
the executor renders is stored (labels, outputs, values), so the result of a render that read a
secret is masked (:attr:`ExecutorIO.masker`, the renderer's ``redact``) before anything keeps it.

One renderer serves a namespace, so which execution reads files is said per call:
:meth:`ReadingScopes.reading_for` around the rendering (the executor's step, input resolution).
Outside it, an expression reads as its namespace alone: namespace files and task outputs, never an
execution's inputs, and nothing at all without a namespace.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from engine.model.execution import Execution
from engine.storage.access import FileAccess
from engine.storage.scopes import ReaderScope
from engine.tasks.context import SecretNotFound
from engine.tasks.expression_io import StorageIO, StoredValue
from engine.tasks.kv_access import check_kv_access
from engine.tasks.masking import Masker
from engine.tasks.secrets import EnvSecrets
from engine.templating import Renderer

KEPT_RENDERERS = 256  # namespaces whose renderer is kept


class ExecutorIO(StorageIO):
    """``ExpressionIO`` for the executor: a task's; its KV lookups are checked here, as a task's
    are by its run context's store (``RunContext.kv``), and every secret it hands out is in
    :attr:`masker`, which its renderer applies to a render that read one."""

    def __init__(self, files: FileAccess, scope: Callable[[], ReaderScope], clock: Callable[[], datetime],
                 kv_lookup: Callable[[str, str], StoredValue | None], encryption_key: bytes | None,
                 secrets: EnvSecrets) -> None:
        super().__init__(files, scope, clock, kv_lookup, encryption_key)
        self._secrets = secrets
        self.masker = Masker(secrets.patterns)

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        check_kv_access(namespace, self._scope().namespace)
        return super().kv(namespace, key, error_on_missing)

    def secret(self, key: str) -> str:
        value = self._secrets.get(key)
        if value is None:
            raise SecretNotFound(f"secret '{key}' not found: set the environment variable "
                                 f"SECRET_{key.upper()} to its base64-encoded value")
        self.masker.add(value)  # known already unless the process's secrets changed
        return value

    def register_secret(self, value: str) -> None:
        self.masker.add(value)


class ReadingScopes:
    """Which execution the executor's expressions read for, on this thread. The scope is built
    only when an expression reads a file: most steps read none."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def reading_for(self, execution: Execution) -> Iterator[None]:
        previous = getattr(self._local, "execution", None)
        self._local.execution = execution
        try:
            yield
        finally:
            self._local.execution = previous

    def current(self, namespace: str | None) -> ReaderScope:
        """The execution set on this thread if it is of ``namespace``, else the namespace alone."""
        execution: Execution | None = getattr(self._local, "execution", None)
        if execution is not None and execution.namespace == namespace:
            return ReaderScope.of(execution)
        return ReaderScope(namespace)


class RendererCache:
    """One renderer per namespace (``None``: no namespace), built on first use by ``build``.

    Kept because building one wraps every filter and function, and its cache of compiled templates
    is what makes the next event's expressions cheap; bounded, since namespaces are user data.
    """

    def __init__(self, build: Callable[[str | None], Renderer], size: int = KEPT_RENDERERS) -> None:
        self._build = build
        self._size = size
        self._renderers: dict[str | None, Renderer] = {}

    def get(self, namespace: str | None) -> Renderer:
        found = self._renderers.get(namespace)
        if found is None:
            if len(self._renderers) >= self._size:
                self._renderers.clear()
            found = self._renderers[namespace] = self._build(namespace)
        return found
