"""L2 adapter: the files of a script task's working directory, into and out of a container.

With ``fileHandlingStrategy: VOLUME`` (Kestra's default) nothing of the host is mounted: the
working directory is sent into the container as a tar archive before it starts, and the
container's copy comes back the same way when it ends, so the files the command wrote land in
the host directory the script task collects ``outputFiles`` from.

What comes back was written by the container's command, so it is untrusted: it is unpacked with
tarfile's ``data`` filter, which refuses absolute paths, ``..``, links that point outside the
directory and device files, and drops owners and set-uid bits; what it refuses is left out.
"""
from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

#: An archive up to this size stays in memory; a bigger one spills to a temporary file.
_SPOOL_BYTES = 16 << 20


@contextmanager
def pack(folders: Iterable[Path], user: str | None = None) -> Iterator[IO[bytes]]:
    """The ``folders`` and their contents as one tar archive to unpack at the container's ``/``
    (Docker creates missing parents), so each lands at the same path as on the host; rewound.

    With a ``user`` (the container's, when it is not root), the command must be able to write
    where its task expects: a numeric ``uid[:gid]`` is given every entry, and any other user
    gets the folders themselves open to all (the container is thrown away after the run)."""
    owner = _numeric_owner(user)
    tops = {str(folder).lstrip("/") for folder in folders}
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for folder in folders:
                if folder.is_dir():
                    archive.add(folder, arcname=str(folder).lstrip("/"),
                                filter=partial(_owned, user, owner, tops))
        spool.seek(0)
        yield spool


def _owned(user: str | None, owner: tuple[int, int] | None, tops: set[str],
           member: tarfile.TarInfo) -> tarfile.TarInfo:
    if owner is not None:
        member.uid, member.gid = owner
        member.uname = member.gname = ""
    elif user and member.name in tops:
        member.mode = 0o777
    return member


def _numeric_owner(user: str | None) -> tuple[int, int] | None:
    uid, _, gid = (user or "").partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()) or uid == "0":
        return None
    return int(uid), int(gid or uid)


def unpack(chunks: Iterable[bytes], directory: Path) -> None:
    """Unpacks into ``directory`` the archive Docker sends for a folder (``GET .../archive``):
    its entries sit under the folder's own name, which is stripped."""
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r:") as archive:
            members = list(_inside(archive.getmembers()))
            archive.extractall(directory, members=members, filter=_kept)


def _kept(member: tarfile.TarInfo, directory: str) -> tarfile.TarInfo | None:
    """tarfile's ``data`` filter, leaving out what it refuses (an absolute symlink, say, which a
    virtual environment made in the working directory has) instead of failing the whole copy."""
    try:
        return tarfile.data_filter(member, directory)
    except tarfile.FilterError:
        return None


def _inside(members: list[tarfile.TarInfo]) -> Iterable[tarfile.TarInfo]:
    for member in members:
        _, _, rest = member.name.partition("/")
        if not rest:
            continue                    # the folder itself: the host one exists already
        member.name = rest
        if member.islnk():              # a hard link names its target from the archive root
            member.linkname = member.linkname.partition("/")[2]
        yield member


def same_or_inside(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or somewhere below it."""
    return os.path.commonpath([path, folder]) == str(folder)
