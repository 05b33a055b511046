"""A flow reaches the KV store of its own namespace's tree only, through ``podium run``: its own
namespace, its parents and its children; a sibling namespace is refused, by ``kv()`` and by the
``kv.*`` tasks, and its keys are left alone."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Podium, write

CORE = "io.kestra.plugin.core."


def _run(podium: Podium, flow: Path) -> dict[str, Any]:
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir))
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    document: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


def _flow(tmp_path: Path, name: str, tasks: str) -> Path:
    return write(tmp_path, f"{name}.yaml", f"id: {name}\nnamespace: company.team\ntasks:\n{tasks}")


def _set(task_id: str, namespace: str, value: str) -> str:
    return (f"  - id: {task_id}\n    type: {CORE}kv.Set\n    namespace: {namespace}\n"
            f"    key: token\n    value: {value}\n")


def test_a_flow_reaches_its_own_its_parent_and_its_child_namespaces(podium: Podium, tmp_path: Path) -> None:
    flow = _flow(tmp_path, "lineage", _set("own", "company.team", "a") + _set("parent", "company", "b")
                 + _set("child", "company.team.sub", "c") + f"""\
  - id: show
    type: {CORE}log.Log
    message: "{{{{ kv('token') }}}} {{{{ kv('token', 'company') }}}} {{{{ kv('token', 'company.team.sub') }}}}"
""")
    document = _run(podium, flow)
    assert document["state"]["current"] == "SUCCESS", document
    assert "a b c" in [log["message"] for log in document["logs"] if log["taskId"] == "show"]


def test_a_sibling_namespace_is_refused_by_kv_tasks_and_by_kv(podium: Podium, tmp_path: Path) -> None:
    setup = write(tmp_path, "setup.yaml", "id: setup\nnamespace: company.other\ntasks:\n"
                  + _set("mine", "company.other", "theirs"))
    assert _run(podium, setup)["state"]["current"] == "SUCCESS"

    writer = _flow(tmp_path, "writer", _set("overwrite", "company.other", "stolen"))
    document = _run(podium, writer)
    assert document["state"]["current"] == "FAILED"
    errors = " ".join(log["message"] for log in document["logs"] if log["level"] == "ERROR")
    assert "Cannot access the KV store of namespace 'company.other'" in errors

    reader = _flow(tmp_path, "reader", f"""\
  - id: peek
    type: {CORE}log.Log
    message: "{{{{ kv('token', 'company.other') }}}}"
""")
    document = _run(podium, reader)
    assert document["state"]["current"] == "FAILED"
    messages = [log["message"] for log in document["logs"] if log["taskId"] == "peek"]
    assert not any("theirs" in message for message in messages)
    assert any("Cannot access the KV store of namespace 'company.other'" in message for message in messages)

    listed = podium.process("kv", "get", "company.other", "token", "--data-dir", str(podium.data_dir))
    assert "theirs" in listed.stdout, listed.stderr
