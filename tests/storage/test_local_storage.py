"""LocalStorage against the Storage contract: round trip, listing, atomicity, traversal."""
from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from engine.storage.base import FileNotFound, StoragePathError
from engine.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def test_bytes_round_trip(storage: LocalStorage) -> None:
    uri = storage.put("kestra:///company/team/hello/file.txt", b"hello")
    assert uri == "kestra:///company/team/hello/file.txt"
    assert storage.get(uri) == b"hello"
    assert storage.exists(uri) and storage.size(uri) == 5
    with storage.open(uri) as handle:
        assert handle.read() == b"hello"
    assert storage.local_path(uri) == str(storage.root / "company/team/hello/file.txt")


def test_stream_round_trip_and_overwrite(storage: LocalStorage) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 7)
    storage.put("kestra:///a/big.bin", io.BytesIO(payload))
    assert storage.get("kestra:///a/big.bin") == payload
    storage.put("kestra:///a/big.bin", b"small")
    assert storage.get("kestra:///a/big.bin") == b"small"


def test_names_with_spaces_are_percent_encoded(storage: LocalStorage) -> None:
    uri = storage.put("kestra:///a/my file%.txt", b"x")
    assert uri == "kestra:///a/my%20file%25.txt"
    assert storage.get(uri) == b"x"
    assert (storage.root / "a" / "my file%.txt").read_bytes() == b"x"


def test_missing_files(storage: LocalStorage) -> None:
    assert not storage.exists("kestra:///nope.txt")
    with pytest.raises(FileNotFound):
        storage.get("kestra:///nope.txt")
    with pytest.raises(FileNotFound):
        storage.size("kestra:///nope.txt")
    assert storage.delete("kestra:///nope.txt") is False


def test_list_is_recursive_sorted_and_scoped(storage: LocalStorage) -> None:
    for path in ("b/2.txt", "a/z/3.txt", "a/1.txt", "ab/4.txt"):
        storage.put(f"kestra:///{path}", b"")
    assert list(storage.list("kestra:///a")) == ["kestra:///a/1.txt", "kestra:///a/z/3.txt"]
    assert list(storage.list("kestra:///")) == [
        "kestra:///a/1.txt", "kestra:///a/z/3.txt", "kestra:///ab/4.txt", "kestra:///b/2.txt"]
    assert list(storage.list("kestra:///a/1.txt")) == ["kestra:///a/1.txt"]
    assert list(storage.list("kestra:///missing")) == []


def test_delete_file_and_folder(storage: LocalStorage) -> None:
    storage.put("kestra:///ns/f/executions/e1/tasks/t/r/out.txt", b"1")
    storage.put("kestra:///ns/f/executions/e1/inputs/i/in.txt", b"2")
    storage.put("kestra:///ns/f/executions/e2/x.txt", b"3")
    assert storage.delete("kestra:///ns/f/executions/e1/inputs/i/in.txt")
    assert storage.delete("kestra:///ns/f/executions/e1")
    assert list(storage.list("kestra:///ns")) == ["kestra:///ns/f/executions/e2/x.txt"]
    with pytest.raises(StoragePathError):
        storage.delete("kestra:///")


@pytest.mark.parametrize("uri", [
    "kestra:///../outside.txt",
    "kestra:///a/../../outside.txt",
    "kestra:///a/%2E%2E/%2E%2E/outside.txt",
    "kestra:///a/..%2F..%2Foutside.txt",
    "kestra:///a/./b.txt",
    "kestra:///a//b.txt",
    "kestra:///a\\..\\b.txt",
    "file:///etc/passwd",
    "/etc/passwd",
    "kestra://host/etc/passwd",
])
def test_traversal_and_foreign_uris_are_rejected(storage: LocalStorage, uri: str) -> None:
    with pytest.raises(StoragePathError):
        storage.put(uri, b"x")
    with pytest.raises(StoragePathError):
        storage.get(uri)
    assert not (storage.root.parent / "outside.txt").exists()


def test_symlinks_leading_out_of_the_root_are_rejected(storage: LocalStorage,
                                                       tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (storage.root / "link").symlink_to(outside)
    with pytest.raises(StoragePathError):
        storage.get("kestra:///link/secret.txt")
    with pytest.raises(StoragePathError):
        storage.put("kestra:///link/new.txt", b"x")
    assert not (outside / "new.txt").exists()
    assert list(storage.list("kestra:///")) == []


def test_writes_are_atomic_for_concurrent_readers(storage: LocalStorage) -> None:
    """A reader racing many rewrites only ever sees one complete version."""
    versions = [bytes([n]) * 200_000 for n in range(1, 21)]
    storage.put("kestra:///race.bin", versions[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(storage.get("kestra:///race.bin"))

    reader = threading.Thread(target=read)
    reader.start()
    for version in versions:
        storage.put("kestra:///race.bin", version)
    done.set()
    reader.join()
    assert seen <= set(versions)


def test_a_failed_write_leaves_the_old_file_and_no_temp(storage: LocalStorage) -> None:
    storage.put("kestra:///a/f.txt", b"old")

    class Broken(io.RawIOBase):
        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # fails on purpose
            raise OSError("disk on fire")

    with pytest.raises(OSError):
        storage.put("kestra:///a/f.txt", Broken())  # type: ignore[arg-type]  # a raw stream that fails
    assert storage.get("kestra:///a/f.txt") == b"old"
    assert sorted(p.name for p in (storage.root / "a").iterdir()) == ["f.txt"]
