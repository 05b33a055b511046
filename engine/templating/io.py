"""L1 pure core: the interface through which expressions reach the outside world.

Templating itself never does I/O; the functions that need it (secret, kv, read,
fileSize, fileExists, now, encrypt/decrypt) call the ExpressionIO the caller passed.
"""
from __future__ import annotations

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
