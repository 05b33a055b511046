"""Tasks and their expressions reach only the files of their execution (engine/storage/scopes.py),
by kestra://, nsfile:// or file:// URI: read()/fileSize()/fileExists()/isFileEmpty() and the
storage tasks, through a real RunContext on a LocalStorage."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.state import State
from engine.storage.access import FileAccess
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

ST = "io.kestra.plugin.core.storage."
RETURN = "io.kestra.plugin.core.debug.Return"
OTHER = "kestra:///other/ns/secret/executions/e2/tasks/t/r/secret.txt"
MINE = "kestra:///company/team/flow/executions/exec1/inputs/f/mine.txt"


@pytest.fixture(autouse=True)
def files(world: World) -> None:
    world.storage.put(OTHER, b"TOP-SECRET")
    world.storage.put(MINE, b"mine")
    world.storage.put("kestra:///company/team/_files/conf/a.txt", b"namespace file")


@pytest.mark.parametrize("expression", [
    f"{{{{ read('{OTHER}') }}}}", f"{{{{ fileSize('{OTHER}') }}}}", f"{{{{ fileExists('{OTHER}') }}}}",
    f"{{{{ isFileEmpty('{OTHER}') }}}}"])
def test_an_expression_cannot_read_another_namespaces_file(run: Run, expression: str) -> None:
    outcome = run({"type": RETURN, "format": expression})
    assert outcome.state is State.FAILED
    assert f"cannot read '{OTHER}': it belongs to namespace 'other.ns'" in (outcome.error or "")
    assert "TOP-SECRET" not in str(outcome)


def test_an_expression_reads_its_own_files_by_any_of_the_three_uris(run: Run, world: World, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "in.csv").write_text("host file")
    ctx = world.context(files=FileAccess(world.storage, [host]))
    outcome = run({"type": RETURN, "format": f"{{{{ read('{MINE}') }}}}|{{{{ read('conf/a.txt') }}}}|"
                                             "{{ read('nsfile:///conf/a.txt') }}|"
                                             f"{{{{ read('file://{host}/in.csv') }}}}|{{{{ fileSize('{MINE}') }}}}"},
                  ctx=ctx)
    assert outcome.outputs == {"value": "mine|namespace file|namespace file|host file|4"}


def test_host_files_are_not_readable_unless_allowed(run: Run) -> None:
    outcome = run({"type": RETURN, "format": "{{ read('file:///etc/hostname') }}"})
    assert outcome.state is State.FAILED
    assert "cannot read 'file:///etc/hostname': flows may read no host file here" in (outcome.error or "")


@pytest.mark.parametrize("task", [
    {"type": ST + "Size", "uri": OTHER},
    {"type": ST + "Concat", "files": [MINE, OTHER]},
    {"type": ST + "Split", "from": OTHER, "rows": 1},
    {"type": ST + "Reverse", "from": OTHER},
    {"type": ST + "LocalFiles", "inputs": {"copy.txt": OTHER}, "outputs": ["*.txt"]},
])
def test_storage_tasks_cannot_read_another_namespaces_file(run: Run, task: dict[str, object]) -> None:
    outcome = run(task)
    assert outcome.state is State.FAILED
    assert f"cannot read '{OTHER}': it belongs to namespace 'other.ns'" in (outcome.error or "")


def test_delete_removes_only_the_executions_and_namespace_files(run: Run, world: World) -> None:
    refused = run({"type": ST + "Delete", "uri": OTHER})
    assert refused.state is State.FAILED and "cannot delete" in (refused.error or "")
    assert world.storage.exists(OTHER)
    assert run({"type": ST + "Delete", "uri": MINE}).outputs == {"uri": MINE, "deleted": True}


def test_storage_tasks_take_namespace_files(run: Run, world: World) -> None:
    assert run({"type": ST + "Size", "uri": "nsfile:///conf/a.txt"}).outputs == {"size": 14}
    outcome = run({"type": ST + "Concat", "files": ["nsfile:///conf/a.txt", MINE]})
    assert world.storage.get(outcome.outputs["uri"]) == b"namespace filemine"
