"""FileAccess: what an execution may read by kestra://, nsfile:// and file:// URI, on a real
LocalStorage and real host files (engine/storage/scopes.py has the rule)."""
from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.model.execution import Execution, StateRecord
from engine.state import State
from engine.storage.access import FileAccess, FileRefused
from engine.storage.base import FileNotFound, StoragePathError
from engine.storage.local import LocalStorage
from engine.storage.scopes import ReaderScope

T0 = datetime(2024, 6, 3, tzinfo=UTC)
MINE = "kestra:///company/team/flow/executions/e1"
SCOPE = ReaderScope.of_execution("company.team", "flow", "e1")


@pytest.fixture
def access(tmp_path: Path) -> FileAccess:
    return FileAccess(LocalStorage(tmp_path / "storage"))


def put(access: FileAccess, uri: str, data: bytes = b"data") -> str:
    return access.storage.put(uri, data)


@pytest.mark.parametrize("uri", [
    f"{MINE}/inputs/f/in.csv",                                          # its own inputs
    f"{MINE}/tasks/t/r1/out.txt",                                       # its own outputs
    f"{MINE}/trigger/t/x.ion",                                          # its own trigger files
    "kestra:///company/team/_files/conf/a.yml",                         # its namespace's files
    "kestra:///company/team/other/executions/e9/tasks/t/r/o.txt",       # another execution's outputs
    "kestra:///company/_files/shared.txt",                              # a parent namespace's files
    "kestra:///company/up/executions/e7/tasks/t/r/o.txt",               # a parent namespace's outputs
])
def test_a_flow_reads_its_execution_its_namespace_and_parent_namespaces(access: FileAccess, uri: str) -> None:
    put(access, uri)
    assert access.read(uri, SCOPE) == b"data"
    assert access.size(uri, SCOPE) == 4 and access.exists(uri, SCOPE)


@pytest.mark.parametrize(("uri", "why"), [
    ("kestra:///other/ns/flow/executions/e2/tasks/t/r/secret.txt", "it belongs to namespace 'other.ns'"),
    ("kestra:///company/team/sub/flow/executions/e2/tasks/t/r/x", "it belongs to namespace 'company.team.sub'"),
    ("kestra:///company/sales/_files/prices.csv", "it belongs to namespace 'company.sales'"),
    ("kestra:///company/team/flow/executions/e2/inputs/f/in.csv", "it belongs to another execution (e2)"),
    ("kestra:///company/team/states/s/x.json", "it is neither an execution's file nor a namespace file"),
])
def test_anything_else_is_refused_with_the_uri_and_the_reason(access: FileAccess, uri: str, why: str) -> None:
    put(access, uri)
    for use in (access.read, access.size, access.exists, access.open):
        with pytest.raises(FileRefused) as refused:
            use(uri, SCOPE)
        assert str(refused.value).startswith(f"cannot read '{uri}': {why}; a flow of 'company.team' reads the "
                                             "files of its own execution, of the execution that started it")
        assert "'company.team' and its parent namespaces (company)" in str(refused.value)


def test_a_child_reads_the_folder_and_namespace_files_of_the_execution_that_started_it(access: FileAccess) -> None:
    trigger = {"namespace": "parent.ns", "flowId": "p", "executionId": "pe", "taskRunId": "x"}
    child = ReaderScope.of_execution("child.ns", "c", "ce", trigger=trigger)
    for uri in ("kestra:///parent/ns/p/executions/pe/tasks/t/r/out.csv", "kestra:///parent/ns/p/executions/pe/"
                "inputs/f/in.csv", "kestra:///parent/ns/_files/a.txt"):
        assert access.read(put(access, uri), child) == b"data"
    other = put(access, "kestra:///parent/ns/p/executions/sibling/tasks/t/r/out.csv")
    with pytest.raises(FileRefused, match="belongs to namespace 'parent.ns'"):
        access.read(other, child)


def test_a_parent_reads_the_files_of_the_executions_it_started(tmp_path: Path) -> None:
    started = {"child": ("shared.tools", "c", "e1"), "stranger": ("shared.tools", "c", "someone-else")}

    def find(execution_id: str) -> Execution | None:
        if execution_id not in started:
            return None
        namespace, flow_id, parent_id = started[execution_id]
        return Execution(id=execution_id, namespace=namespace, flow_id=flow_id, flow_revision=1, parent_id=parent_id,
                         state=StateRecord.start(State.SUCCESS, T0))

    access = FileAccess(LocalStorage(tmp_path / "storage"), find=find)
    mine = put(access, "kestra:///shared/tools/c/executions/child/tasks/t/r/out.csv")
    assert access.read(mine, SCOPE) == b"data"
    for uri in ("kestra:///shared/tools/c/executions/stranger/tasks/t/r/out.csv",
                "kestra:///other/c/executions/child/tasks/t/r/out.csv"):  # the child's id, not its folder
        with pytest.raises(FileRefused, match="it belongs to namespace"):
            access.read(put(access, uri), SCOPE)
    with pytest.raises(FileRefused):
        FileAccess(access.storage).read(mine, SCOPE)


def test_a_replay_reads_the_inputs_of_the_execution_it_copies(access: FileAccess) -> None:
    original = put(access, "kestra:///company/team/flow/executions/first/inputs/f/in.csv")
    assert access.read(original, ReaderScope.of_execution("company.team", "flow", "e1", original_id="first")) == b"data"
    with pytest.raises(FileRefused):
        access.read(original, SCOPE)


def test_without_a_namespace_nothing_is_readable(access: FileAccess) -> None:
    uri = put(access, "kestra:///company/team/_files/a.txt")
    with pytest.raises(FileRefused, match="no flow is known here"):
        access.read(uri, ReaderScope(None))
    with pytest.raises(FileRefused, match="no flow is known here"):
        access.read("nsfile:///a.txt", ReaderScope(None))


def test_paths_that_leave_their_folder_are_refused(access: FileAccess) -> None:
    for uri in (f"{MINE}/../../../../other/ns/f/executions/e/tasks/t/r/x", f"{MINE}/%2E%2E/x",
                f"{MINE}/inputs/a%2Fb", "nsfile:///../../other/_files/x"):
        with pytest.raises(StoragePathError):
            access.read(uri, SCOPE)


def test_nsfile_names_the_readers_namespace_or_one_it_may_read(access: FileAccess) -> None:
    put(access, "kestra:///company/team/_files/dir/my%20file.txt", b"own")
    put(access, "kestra:///company/_files/shared.txt", b"parent")
    put(access, "kestra:///company/sales/_files/prices.csv", b"no")
    assert access.read("nsfile:///dir/my%20file.txt", SCOPE) == b"own"
    assert access.read("nsfile://company.team/dir/my%20file.txt", SCOPE) == b"own"
    assert access.read("nsfile://company/shared.txt", SCOPE) == b"parent"
    with pytest.raises(FileNotFound):  # nsfile:/// is the reader's namespace only: no parent is searched
        access.read("nsfile:///shared.txt", SCOPE)
    with pytest.raises(FileRefused, match="reads the namespace files of 'company.team' and its parent"):
        access.read("nsfile://company.sales/prices.csv", SCOPE)
    with pytest.raises(FileRefused, match="it names no file"):
        access.read("nsfile:///", SCOPE)


def test_host_files_are_refused_unless_an_administrator_allowed_their_folder(tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "in.csv").write_text("a,b")
    (outside / "secret.txt").write_text("secret")
    (allowed / "link.txt").symlink_to(outside / "secret.txt")
    closed = FileAccess(LocalStorage(tmp_path / "storage"))
    with pytest.raises(FileRefused, match="flows may read no host file here; an administrator lists the folders "
                                          "they may read in the setting local_files.allowed_paths"):
        closed.read(f"file://{allowed}/in.csv", SCOPE)
    access = FileAccess(LocalStorage(tmp_path / "storage"), [allowed])
    assert access.read(f"file://{allowed}/in.csv", SCOPE) == b"a,b"
    assert access.size(f"file://{allowed}/in.csv", SCOPE) == 3
    assert access.exists(f"file://{allowed}/in.csv", SCOPE) and not access.exists(f"file://{allowed}/no", SCOPE)
    for escape in (f"file://{outside}/secret.txt", f"file://{allowed}/../outside/secret.txt",
                   f"file://{allowed}/link.txt", "file:///proc/self/environ"):
        with pytest.raises(FileRefused, match=f"it is outside the folders flows may read \\(local_files.allowed_paths: "
                                              f"{allowed}\\)"):
            access.read(escape, SCOPE)
    with pytest.raises(FileRefused, match="a host file is named by its absolute path"):
        access.read("file://allowed/in.csv", SCOPE)


def test_a_pipe_or_a_device_under_an_allowed_folder_is_refused_without_waiting(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    os.mkfifo(allowed / "pipe")
    (allowed / "zero").symlink_to("/dev/zero")
    access = FileAccess(LocalStorage(tmp_path / "storage"), [allowed, "/dev"])
    done = threading.Event()

    def refuse() -> None:
        for name in (f"{allowed}/pipe", "/dev/zero"):
            with pytest.raises(FileRefused, match="it is not a regular file"):
                access.read(f"file://{name}", SCOPE)
        done.set()

    threading.Thread(target=refuse, daemon=True).start()
    assert done.wait(30), "reading a pipe with no writer must not wait for one"


def test_a_flow_deletes_only_its_own_execution_and_namespace_files(access: FileAccess) -> None:
    mine = put(access, f"{MINE}/tasks/t/r/out.txt")
    same_namespace = put(access, "kestra:///company/team/other/executions/e9/tasks/t/r/o.txt")
    assert access.deletable(mine, SCOPE) == mine
    assert access.deletable(same_namespace, SCOPE) == same_namespace
    for uri in ("kestra:///company/up/executions/e7/tasks/t/r/o.txt", "kestra:///other/_files/a"):
        with pytest.raises(FileRefused, match="a flow deletes only its own execution's files and those of its "
                                              "namespace 'company.team'"):
            access.deletable(uri, SCOPE)
    with pytest.raises(FileRefused, match="only internal-storage files"):
        access.deletable("nsfile:///a.txt", SCOPE)
