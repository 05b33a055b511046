"""Kestra's storage URIs and the namespace-files helper over LocalStorage."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.storage import uris
from engine.storage.base import FileNotFound, StoragePathError
from engine.storage.local import LocalStorage
from engine.storage.namespace_files import NamespaceFiles


def test_kestra_layout_with_namespace_dots_as_slashes() -> None:
    assert uris.execution_uri("company.team", "hello", "e1") == (
        "kestra:///company/team/hello/executions/e1")
    assert uris.task_output_uri("company.team", "hello", "e1", "t1", "r1", "out.csv") == (
        "kestra:///company/team/hello/executions/e1/tasks/t1/r1/out.csv")
    assert uris.input_file_uri("company.team", "hello", "e1", "file", "data.txt") == (
        "kestra:///company/team/hello/executions/e1/inputs/file/data.txt")
    assert uris.trigger_file_uri("ns", "f", "e1", "webhook", "body.json") == (
        "kestra:///ns/f/executions/e1/trigger/webhook/body.json")
    assert uris.namespace_file_uri("company.team", "/scripts/run.py") == (
        "kestra:///company/team/_files/scripts/run.py")


def test_segments_are_encoded_and_decoded() -> None:
    uri = uris.task_output_uri("ns", "f", "e", "t", "r", "a b%c.txt")
    assert uri.endswith("/a%20b%25c.txt")
    assert uris.segments(uri)[-1] == "a b%c.txt"
    assert uris.from_path("/x/y z") == "kestra:///x/y%20z"


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b"])
def test_builders_refuse_names_that_would_move_the_path(name: str) -> None:
    with pytest.raises(StoragePathError):
        uris.task_output_uri("ns", "f", "e", "t", "r", name)


@pytest.fixture
def files(tmp_path: Path) -> NamespaceFiles:
    return NamespaceFiles(LocalStorage(tmp_path))


def test_upload_read_list_delete(files: NamespaceFiles) -> None:
    uri = files.upload("company.team", "scripts/run.py", b"print(1)")
    assert uri == "kestra:///company/team/_files/scripts/run.py"
    files.upload("company.team", "/README.md", b"# hi")
    files.upload("company.team", "scripts/lib/util.py", b"")
    files.upload("company.team.sub", "other.txt", b"")
    assert files.read("company.team", "/scripts/run.py") == b"print(1)"
    assert files.list("company.team") == ["README.md", "scripts/lib/util.py", "scripts/run.py"]
    assert files.list("company.team", "scripts/lib") == ["scripts/lib/util.py"]
    assert files.exists("company.team", "README.md")
    assert files.delete("company.team", "scripts")
    assert files.list("company.team") == ["README.md"]
    with pytest.raises(FileNotFound):
        files.read("company.team", "scripts/run.py")


def test_namespace_file_paths_cannot_escape(files: NamespaceFiles) -> None:
    with pytest.raises(StoragePathError):
        files.upload("ns", "../../other/_files/x", b"")
    with pytest.raises(StoragePathError):
        files.read("ns", "")
