"""L1 pure core: the interface through which expressions reach the outside world.

Templating itself never does I/O; the functions that need it (secret, kv, read,
fileSize, fileExists, now, encrypt/decrypt) call the ExpressionIO the caller passed.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from engine.templating.errors import ExpressionError


@runtime_checkable
class ExpressionIO(Protocol):
    """What an expression may ask of its surroundings. Implemented by L2/L3 callers."""

    def secret(self, key: str) -> str: ...

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any: ...

    def read(self, path: str) -> str: ...

    def file_size(self, path: str) -> int: ...

    def file_exists(self, path: str) -> bool: ...

    def now(self) -> datetime: ...

    def encryption_key(self) -> bytes | None: ...


class NoIO:
    """Stands in when no ExpressionIO was given: every call explains what is missing."""

    @staticmethod
    def _refuse(function: str) -> ExpressionError:
        return ExpressionError(
            f"{function}() is not available here: this expression is rendered without access "
            "to secrets, KV store, files or the clock; pass an ExpressionIO to the Renderer")

    def secret(self, key: str) -> str:
        raise self._refuse("secret")

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        raise self._refuse("kv")

    def read(self, path: str) -> str:
        raise self._refuse("read")

    def file_size(self, path: str) -> int:
        raise self._refuse("fileSize")

    def file_exists(self, path: str) -> bool:
        raise self._refuse("fileExists")

    def now(self) -> datetime:
        raise self._refuse("now")

    def encryption_key(self) -> bytes | None:
        raise self._refuse("encrypt")


class SwitchedIO:
    """The I/O of whoever renders on this thread right now (``using``), else NoIO.

    A Renderer builds its Jinja environment and compiles templates once; binding it to one task
    run's I/O would throw both away per task run. Built on a SwitchedIO, one Renderer serves
    every task run of a process: each render call names its I/O (``Renderer.bound``)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._none = NoIO()

    @property
    def current(self) -> ExpressionIO:
        io: ExpressionIO | None = getattr(self._local, "io", None)
        return io or self._none

    @contextmanager
    def using(self, io: ExpressionIO | None) -> Iterator[None]:
        previous = getattr(self._local, "io", None)
        self._local.io = io
        try:
            yield
        finally:
            self._local.io = previous

    # The ExpressionIO methods stay explicit below: the Renderer takes ``io.read`` and its kin
    # once, when it is built, so they must forward at call time, not resolve at build time.
    def __getattr__(self, name: str) -> Any:
        # the optional capabilities of the caller's I/O (errorLogs() asks for ``error_logs``)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current, name)

    def secret(self, key: str) -> str:
        return self.current.secret(key)

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        return self.current.kv(namespace, key, error_on_missing)

    def read(self, path: str) -> str:
        return self.current.read(path)

    def file_size(self, path: str) -> int:
        return self.current.file_size(path)

    def file_exists(self, path: str) -> bool:
        return self.current.file_exists(path)

    def now(self) -> datetime:
        return self.current.now()

    def encryption_key(self) -> bytes | None:
        return self.current.encryption_key()
