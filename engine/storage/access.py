"""L2 adapter: reaching the files a flow names by URI, and refusing the ones that are not its own.

A flow names a file with one of three URIs (docs/flow-language.md, *Files and URIs*):

- ``kestra:///...``: internal storage, readable as :func:`engine.storage.scopes.refusal` says;
- ``nsfile:///path``: a namespace file of the reader's namespace (no parent namespace is
  searched); ``nsfile://other.ns/path``: one of ``other.ns``, if the reader may read that namespace;
- ``file:///path``: a file of this host, only under one of the folders the administrator lists
  in ``local_files.allowed_paths`` (none by default), as Kestra's ``kestra.local-files.allowed-paths``.

:class:`FileAccess` resolves a URI for one reader (a :class:`ReaderScope`) and raises
:class:`FileRefused`, whose message names the URI and says why, for anything else.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from engine.model.input_values import FILE_URI_SCHEMES
from engine.storage import uris
from engine.storage.base import SCHEME, Storage, StorageError
from engine.storage.scopes import FindExecution, ReaderScope, refusal

NSFILE = "nsfile://"
HOST_FILE = "file://"
ALLOWED_PATHS_SETTING = "local_files.allowed_paths"
# Kestra's test for "this is a URI" (AbstractFileFunction.URI_PATTERN): a scheme, then a colon.
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class FileRefused(StorageError, PermissionError):
    """A file its reader may not reach; the message names it and says why."""


def is_file_uri(text: object) -> bool:
    """Whether ``text`` names a file by one of the URIs flows use (``kestra://``, ``nsfile://``, ``file://``)."""
    return isinstance(text, str) and text.startswith(FILE_URI_SCHEMES)


def looks_like_uri(text: str) -> bool:
    return bool(_URI.match(text))


@dataclass(frozen=True)
class Located:
    """Where a file URI leads: an internal-storage URI, or a path of this host."""

    uri: str | None = None
    path: Path | None = None


class FileAccess:
    """Resolves file URIs for a reader; refuses what it may not reach (thread-safe, no state)."""

    def __init__(self, storage: Storage, allowed_paths: Iterable[str | os.PathLike[str]] = (),
                 find: FindExecution | None = None) -> None:
        """``allowed_paths``: the host folders ``file://`` URIs may name; ``find``: looks an
        execution up by id, so that a parent reads its subflows' files (none: it does not)."""
        self.storage = storage
        self.allowed_paths = tuple(Path(path).resolve() for path in allowed_paths)
        self.find = find

    # -- resolving ------------------------------------------------------------------------------
    def locate(self, ref: str, scope: ReaderScope) -> Located:
        """Where ``ref`` leads for ``scope``; FileRefused (or StoragePathError) if it may not go there."""
        if ref.startswith(SCHEME):
            return Located(uri=self.internal(ref, scope))
        if ref.startswith(NSFILE):
            return Located(uri=self._namespace_file(ref, scope))
        if ref.startswith(HOST_FILE):
            return Located(path=self._host_file(ref))
        raise FileRefused(f"'{ref}' is not a file URI: write kestra:///..., nsfile:///path or file:///path")

    def internal(self, uri: str, scope: ReaderScope) -> str:
        """``uri`` (a ``kestra://`` URI) if ``scope`` may read it."""
        reason = refusal(uris.segments(uri), scope, self.find)
        if reason is not None:
            raise FileRefused(f"cannot read '{uri}': {reason}" + (f"; {scope.rule()}" if scope.namespace else ""))
        return uri

    def deletable(self, uri: str, scope: ReaderScope) -> str:
        """``uri`` (a ``kestra://`` URI) if ``scope`` may delete it: its own execution's files and
        its own namespace's."""
        if not uri.startswith(SCHEME):
            raise FileRefused(f"cannot delete '{uri}': only internal-storage files (kestra:///...) can be deleted")
        reason = refusal(uris.segments(uri), scope.for_deleting())
        if reason is not None:
            raise FileRefused(f"cannot delete '{uri}': {reason}; a flow deletes only its own execution's files "
                              f"and those of its namespace '{scope.namespace}'")
        return uri

    # -- reading --------------------------------------------------------------------------------
    def open(self, ref: str, scope: ReaderScope) -> BinaryIO:
        found = self.locate(ref, scope)
        if found.uri is not None:
            return self.storage.open(found.uri)
        assert found.path is not None
        return _open_regular(found.path, ref)

    def read(self, ref: str, scope: ReaderScope) -> bytes:
        with self.open(ref, scope) as handle:
            return handle.read()

    def size(self, ref: str, scope: ReaderScope) -> int:
        found = self.locate(ref, scope)
        if found.uri is not None:
            return self.storage.size(found.uri)
        assert found.path is not None
        with _open_regular(found.path, ref) as handle:
            return os.fstat(handle.fileno()).st_size

    def exists(self, ref: str, scope: ReaderScope) -> bool:
        found = self.locate(ref, scope)
        if found.uri is not None:
            return self.storage.exists(found.uri)
        assert found.path is not None
        return found.path.is_file()

    # -- the two other schemes ------------------------------------------------------------------
    def _namespace_file(self, ref: str, scope: ReaderScope) -> str:
        authority, _, path = ref[len(NSFILE):].partition("/")
        if scope.namespace is None:
            raise FileRefused(f"cannot read '{ref}': no flow is known here, so no namespace file can be read")
        if authority and not scope.may_read_namespace(authority):
            raise FileRefused(f"cannot read '{ref}': a flow of '{scope.namespace}' reads the namespace files of "
                              f"{scope.describe_namespaces()} only")
        segments = [unquote(part) for part in path.split("/") if part]
        if not segments:
            raise FileRefused(f"cannot read '{ref}': it names no file; write nsfile:///path/to/file")
        return uris.from_segments([*(authority or scope.namespace).split("."), "_files", *segments])

    def _host_file(self, ref: str) -> Path:
        parts = urlsplit(ref)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise FileRefused(f"cannot read '{ref}': a host file is named by its absolute path, as file:///data/in.csv")
        if not self.allowed_paths:
            raise FileRefused(f"cannot read '{ref}': flows may read no host file here; an administrator lists the "
                              f"folders they may read in the setting {ALLOWED_PATHS_SETTING}")
        path = Path(unquote(parts.path))
        if "\0" in str(path):
            raise FileRefused(f"cannot read '{ref}': a NUL byte in a path")
        real = path.resolve()  # follows every symlink: a link inside an allowed folder leads nowhere else
        if not any(real == root or root in real.parents for root in self.allowed_paths):
            allowed = ", ".join(str(root) for root in self.allowed_paths)
            raise FileRefused(f"cannot read '{ref}': it is outside the folders flows may read "
                              f"({ALLOWED_PATHS_SETTING}: {allowed})")
        return real


def _open_regular(path: Path, ref: str) -> BinaryIO:
    """Opens a regular file only: a device (/dev/zero), a pipe or a folder is refused before any read.
    O_NONBLOCK: opening a pipe with no writer must not wait for one."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileRefused(f"cannot read '{ref}': it is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
