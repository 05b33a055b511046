"""storage.* tasks through run_task, on a LocalStorage in a temp dir."""
from __future__ import annotations

import pytest

from engine.state import State
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

ST = "io.kestra.plugin.core.storage."
EXEC = "kestra:///company/team/flow/executions/exec1/"


def _put(world: World, name: str, text: str) -> str:
    return world.storage.put(f"{EXEC}inputs/file/{name}", text.encode())


def test_concat_with_separator(run: Run, world: World) -> None:
    a, b = _put(world, "a.txt", "A"), _put(world, "b.txt", "B")
    outcome = run({"type": ST + "Concat", "files": [a, b], "separator": "\n", "extension": ".txt"})
    assert outcome.outputs["uri"].endswith(".txt")
    assert world.storage.get(outcome.outputs["uri"]) == b"A\nB"


def test_concat_accepts_a_json_array_string(run: Run, world: World) -> None:
    a = _put(world, "a.txt", "x")
    outcome = run({"type": "io.kestra.core.tasks.storages.Concat", "files": f'["{a}", "{a}"]'})
    assert world.storage.get(outcome.outputs["uri"]) == b"xx"


@pytest.mark.parametrize(("rule", "parts"), [
    ({"rows": 2}, ["1\n2\n", "3\n4\n", "5\n"]),
    ({"partitions": 2}, ["1\n3\n5\n", "2\n4\n"]),
    ({"bytes": "4"}, ["1\n2\n", "3\n4\n", "5\n"]),
])
def test_split(run: Run, world: World, rule: dict[str, object], parts: list[str]) -> None:
    source = _put(world, "n.csv", "1\n2\n3\n4\n5\n")
    outcome = run({"type": ST + "Split", "from": source, **rule})
    assert outcome.state is State.SUCCESS
    assert [world.storage.get(uri).decode() for uri in outcome.outputs["uris"]] == parts
    assert all(uri.endswith(".csv") for uri in outcome.outputs["uris"])


def test_split_needs_a_rule() -> None:
    from engine.plugins.core.storage import SplitOptions
    with pytest.raises(ValueError, match="set one of 'bytes', 'partitions' or 'rows'"):
        SplitOptions.model_validate({"id": "s", "type": ST + "Split", "from": "kestra:///a"})


def test_reverse(run: Run, world: World) -> None:
    source = _put(world, "r.txt", "a\nb\nc\n")
    outcome = run({"type": ST + "Reverse", "from": source})
    assert world.storage.get(outcome.outputs["uri"]) == b"c\nb\na\n"


def test_size_and_delete(run: Run, world: World) -> None:
    source = _put(world, "s.txt", "12345")
    assert run({"type": ST + "Size", "uri": source}).outputs == {"size": 5}
    assert run({"type": ST + "Delete", "uri": source}).outputs == {"uri": source, "deleted": True}
    assert not world.storage.exists(source)
    assert run({"type": ST + "Delete", "uri": source}).outputs["deleted"] is False
    missing = run({"type": ST + "Delete", "uri": source, "errorOnMissing": True})
    assert missing.state is State.FAILED and missing.error == f"Unable to find file '{source}'"


def test_a_path_that_is_not_a_storage_uri_fails(run: Run) -> None:
    outcome = run({"type": ST + "Size", "uri": "/etc/passwd"})
    assert outcome.state is State.FAILED and "is not a file URI" in (outcome.error or "")


def test_local_files_writes_inputs_and_stores_outputs(run: Run, world: World) -> None:
    source = _put(world, "data.json", '{"a": 1}')
    ctx = world.context("files")
    outcome = run({"id": "files", "type": ST + "LocalFiles",
                   "inputs": {"hello.txt": "Hello {{ task.id }}", "sub/dir/data.json": source, "skip.log": "x"},
                   "outputs": ["*.txt", "sub/**"]}, ctx=ctx)
    uris = outcome.outputs["uris"]
    assert sorted(uris) == ["hello.txt", "sub/dir/data.json"]
    assert world.storage.get(uris["hello.txt"]) == b"Hello files"
    assert world.storage.get(uris["sub/dir/data.json"]) == b'{"a": 1}'
    assert ctx._working_dir is None  # the working directory was removed with the context


def test_purge_current_execution_files(run: Run, world: World) -> None:
    kept = world.storage.put("kestra:///company/team/flow/executions/other/x.txt", b"x")
    mine = _put(world, "a.txt", "a")
    outcome = run({"type": "io.kestra.core.tasks.storages.PurgeExecution"})
    assert outcome.outputs == {"uris": [mine]}
    assert world.storage.exists(kept) and not world.storage.exists(mine)
