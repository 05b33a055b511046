"""L2 adapter: internal storage on the local filesystem (Kestra's ``storage-local``).

``kestra:///a/b/c.txt`` lives at ``{root}/a/b/c.txt``. Writes are atomic (a temp file in
the same folder, then ``os.replace``), so a reader in another process never sees half a
file. Every path is checked to stay under the root, following symlinks, so neither ``..``
nor a symlink planted inside the root can reach other files.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.storage import uris
from engine.storage.base import FileNotFound, StoragePathError

# Temp files start with this, so ``list`` can skip half-written files.
_TEMP_PREFIX = ".podium-tmp-"
_CHUNK = 1024 * 1024


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, uri: str, data: bytes | BinaryIO) -> str:
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkdir may have walked through a symlinked folder: check again once it exists.
        self._check_inside(path)
        fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, _CHUNK)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return uris.canonical(uri)

    def get(self, uri: str) -> bytes:
        with self.open(uri) as handle:
            return handle.read()

    def open(self, uri: str) -> BinaryIO:
        path = self._path(uri)
        if not path.is_file():
            raise FileNotFound(f"no file at {uri}")
        return path.open("rb")

    def exists(self, uri: str) -> bool:
        return self._path(uri).exists()

    def size(self, uri: str) -> int:
        path = self._path(uri)
        if not path.is_file():
            raise FileNotFound(f"no file at {uri}")
        return path.stat().st_size

    def delete(self, uri: str) -> bool:
        """Deletes a file, or a whole folder (purging an execution's files); False if absent."""
        path = self._path(uri)
        if path == self.root:
            raise StoragePathError("refusing to delete the storage root")
        if path.is_dir():
            shutil.rmtree(path)
            return True
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False

    def list(self, prefix_uri: str) -> Iterator[str]:
        path = self._path(prefix_uri)
        if path.is_file():
            yield uris.canonical(prefix_uri)
            return
        if not path.is_dir():
            return
        found = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
            for name in files:
                file = Path(folder, name)
                if not name.startswith(_TEMP_PREFIX) and self._is_inside(file):
                    found.append(file.relative_to(self.root).parts)
        for parts in sorted(found):
            yield uris.from_segments(list(parts))

    def local_path(self, uri: str) -> str | None:
        return str(self._path(uri))

    def _path(self, uri: str) -> Path:
        path = self.root.joinpath(*uris.segments(uri))
        self._check_inside(path)
        return path

    def _check_inside(self, path: Path) -> None:
        if not self._is_inside(path):
            raise StoragePathError(f"path escapes the storage root: {path}")

    def _is_inside(self, path: Path) -> bool:
        # resolve() follows symlinks for the part of the path that exists.
        real = path.resolve()
        return real == self.root or self.root in real.parents
