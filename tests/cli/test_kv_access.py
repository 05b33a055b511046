"""A flow reaches the KV store of its own namespace's tree only, through ``podium run``: its own
namespace, its parents and its children; a sibling namespace is refused, by ``kv()`` and by the
``kv.*`` tasks, and its keys are left alone."""
from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import ENDED, Podium, log_messages, write

CORE = "io.kestra.plugin.core."


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
    document = podium.run_json(flow, exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS", document
    assert "a b c" in log_messages(document, "show")


def test_a_sibling_namespace_is_refused_by_kv_tasks_and_by_kv(podium: Podium, tmp_path: Path) -> None:
    setup = write(tmp_path, "setup.yaml", "id: setup\nnamespace: company.other\ntasks:\n"
                  + _set("mine", "company.other", "theirs"))
    assert podium.run_json(setup, exit_code=ENDED)["state"]["current"] == "SUCCESS"

    writer = _flow(tmp_path, "writer", _set("overwrite", "company.other", "stolen"))
    document = podium.run_json(writer, exit_code=ENDED)
    assert document["state"]["current"] == "FAILED"
    errors = " ".join(log["message"] for log in document["logs"] if log["level"] == "ERROR")
    assert "Cannot access the KV store of namespace 'company.other'" in errors

    reader = _flow(tmp_path, "reader", f"""\
  - id: peek
    type: {CORE}log.Log
    message: "{{{{ kv('token', 'company.other') }}}}"
""")
    document = podium.run_json(reader, exit_code=ENDED)
    assert document["state"]["current"] == "FAILED"
    messages = log_messages(document, "peek")
    assert not any("theirs" in message for message in messages)
    assert any("Cannot access the KV store of namespace 'company.other'" in message for message in messages)

    listed = podium.process("kv", "get", "company.other", "token", "--data-dir", str(podium.data_dir))
    assert "theirs" in listed.stdout, listed.stderr
