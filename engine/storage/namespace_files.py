"""L2 adapter: namespace files (``/{ns}/_files/{path}``) on top of any Storage.

Paths are relative to the namespace's ``_files`` folder and use ``/``; a leading slash is
accepted (``/scripts/a.py`` and ``scripts/a.py`` are the same file).
"""
from __future__ import annotations

from engine.storage import uris
from engine.storage.base import Storage


class NamespaceFiles:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def upload(self, namespace: str, path: str, data: bytes) -> str:
        """Creates or replaces the file; returns its ``kestra:///`` URI."""
        return self.storage.put(uris.namespace_file_uri(namespace, path), data)

    def read(self, namespace: str, path: str) -> bytes:
        """The file's bytes; FileNotFound if absent."""
        return self.storage.get(uris.namespace_file_uri(namespace, path))

    def exists(self, namespace: str, path: str) -> bool:
        return self.storage.exists(uris.namespace_file_uri(namespace, path))

    def uri(self, namespace: str, path: str) -> str:
        """The URI of a namespace file (Kestra's ``fileURI('path')``)."""
        return uris.namespace_file_uri(namespace, path)

    def list(self, namespace: str, prefix: str = "") -> list[str]:
        """Relative paths of the namespace's files (recursive, sorted), under ``prefix``."""
        root = uris.namespace_files_root(namespace)
        folder = uris.namespace_file_uri(namespace, prefix) if prefix.strip("/") else root
        depth = len(uris.segments(root))
        return ["/".join(uris.segments(uri)[depth:]) for uri in self.storage.list(folder)]

    def delete(self, namespace: str, path: str) -> bool:
        """Deletes a file or a folder of files; False if nothing was there."""
        return self.storage.delete(uris.namespace_file_uri(namespace, path))
