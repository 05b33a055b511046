"""The internal-storage contract: files addressed by ``kestra:///...`` URIs.

Layout (Kestra's, reference/kestra-features.md §10): namespace dots become slashes.
- task output file: ``/{ns}/{flow}/executions/{execId}/tasks/{taskId}/{taskRunId}/{name}``
- FILE input:       ``/{ns}/{flow}/executions/{execId}/inputs/{inputId}/{filename}``
- namespace file:   ``/{ns}/_files/{path}``
A path that tries to leave the storage root (``..``) is rejected with StoragePathError.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol

SCHEME = "kestra://"


class StorageError(Exception):
    pass


class StoragePathError(StorageError, ValueError):
    """A URI or path that is malformed or escapes the storage root."""


class FileNotFound(StorageError, FileNotFoundError):
    pass


class Storage(Protocol):
    def put(self, uri: str, data: bytes | BinaryIO) -> str:
        """Stores ``data`` at ``uri`` (``kestra:///a/b.txt``); returns the URI."""

    def get(self, uri: str) -> bytes: ...

    def open(self, uri: str) -> BinaryIO: ...

    def exists(self, uri: str) -> bool: ...

    def size(self, uri: str) -> int: ...

    def delete(self, uri: str) -> bool: ...

    def list(self, prefix_uri: str) -> Iterator[str]:
        """Every file URI under ``prefix_uri``, recursively, sorted."""

    def local_path(self, uri: str) -> str | None:
        """A filesystem path for ``uri`` if the backend has one (local storage), else None."""
