"""The operating commands on a data folder: flow deploy, execution list/show/logs, kv, namespace files."""
from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Podium, write

FLOW = """\
id: ops_flow
namespace: tests.cli
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{message}"
"""


def test_flow_deploy_twice_says_unchanged_then_a_change_is_a_new_revision(podium: Podium,
                                                                          tmp_path: Path) -> None:
    flow = write(tmp_path, "ops.yaml", FLOW.format(message="one"))
    first = podium.invoke("flow", "deploy", str(flow))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "tests.cli.ops_flow: revision 1"
    again = podium.invoke("flow", "deploy", str(flow))
    assert again.exit_code == 0
    assert again.stdout.strip() == "tests.cli.ops_flow: unchanged (revision 1)"
    flow.write_text(FLOW.format(message="two"))
    changed = podium.invoke("flow", "deploy", str(flow))
    assert changed.stdout.strip() == "tests.cli.ops_flow: revision 2"


def test_flow_deploy_of_a_folder_reports_refused_files(podium: Podium, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    write(folder, "good.yaml", FLOW.format(message="ok"))
    write(folder, "bad.yaml", FLOW.format(message="ok").replace("log.Log", "log.Lg").replace("ops_flow", "bad"))
    result = podium.invoke("flow", "deploy", str(folder))
    assert result.exit_code == 1
    assert "tests.cli.ops_flow: revision 1" in result.stdout
    assert "bad.yaml:5:11" in result.stderr and "1 flow file(s) refused" in result.stderr


def test_execution_list_show_and_logs(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "ops.yaml", FLOW.format(message="hello ops"))
    ran = podium.run_json(flow)
    other = podium.run_json(flow)

    listed = podium.invoke("execution", "list", "--json")
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert [item["id"] for item in items] == [other["id"], ran["id"]]  # newest first
    assert {item["state"]["current"] for item in items} == {"SUCCESS"}
    filtered = json.loads(podium.invoke("execution", "list", "--json", "-f", "nope").stdout)
    assert filtered == []

    shown = podium.invoke("execution", "show", ran["id"], "--json")
    document = json.loads(shown.stdout)
    assert document["id"] == ran["id"] and document["state"]["current"] == "SUCCESS"
    assert [r["taskId"] for r in document["taskRunList"]] == ["say"]
    assert [log["message"] for log in document["logs"]] == ["hello ops"]

    human = podium.invoke("execution", "show", ran["id"])
    assert "say  SUCCESS" in human.stdout and "hello ops" in human.stdout
    logs = json.loads(podium.invoke("execution", "logs", ran["id"], "--json").stdout)
    assert [(log["taskId"], log["level"], log["message"]) for log in logs] == [("say", "INFO", "hello ops")]
    table = podium.invoke("execution", "list", columns=200)
    assert ran["id"] in table.stdout and "tests.cli.ops_flow" in table.stdout and "2 of 2 executions" in table.stdout


def test_showing_an_unknown_execution_is_one_clear_error(podium: Podium) -> None:
    result = podium.invoke("execution", "show", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: execution nope not found"


def test_kv_round_trip_keeps_json_types(podium: Podium) -> None:
    assert podium.invoke("kv", "set", "tests.cli", "config", '{"a": [1, 2], "b": true}').exit_code == 0
    assert podium.invoke("kv", "set", "tests.cli", "count", "42").exit_code == 0
    assert podium.invoke("kv", "set", "tests.cli", "word", "plain text").exit_code == 0
    assert podium.invoke("kv", "set", "tests.cli", "quoted", "42", "--string").exit_code == 0

    assert json.loads(podium.invoke("kv", "get", "tests.cli", "config").stdout) == {"a": [1, 2], "b": True}
    assert json.loads(podium.invoke("kv", "get", "tests.cli", "count").stdout) == 42
    assert json.loads(podium.invoke("kv", "get", "tests.cli", "word").stdout) == "plain text"
    assert json.loads(podium.invoke("kv", "get", "tests.cli", "quoted").stdout) == "42"
    listed = json.loads(podium.invoke("kv", "list", "tests.cli", "--json").stdout)
    assert [(e["key"], e["type"]) for e in listed] == [
        ("config", "JSON"), ("count", "NUMBER"), ("quoted", "STRING"), ("word", "STRING")]

    deleted = podium.invoke("kv", "delete", "tests.cli", "count")
    assert deleted.exit_code == 0 and deleted.stdout.strip() == "tests.cli/count deleted"
    missing = podium.invoke("kv", "get", "tests.cli", "count")
    assert missing.exit_code == 1 and "no key 'count' in namespace tests.cli" in missing.stderr
    assert podium.invoke("kv", "delete", "tests.cli", "count").exit_code == 1
    assert [e["key"] for e in json.loads(podium.invoke("kv", "list", "tests.cli", "--json").stdout)] == [
        "config", "quoted", "word"]


def test_a_kv_value_set_by_the_cli_is_read_by_a_flow(podium: Podium, tmp_path: Path) -> None:
    podium.invoke("kv", "set", "tests.cli", "greeting", '"bonjour"')
    flow = write(tmp_path, "kv.yaml", FLOW.format(message="{{ kv('greeting') }}"))
    document = podium.run_json(flow)
    assert document["state"]["current"] == "SUCCESS"
    assert [log["message"] for log in document["logs"]] == ["bonjour"]


def test_namespace_files_upload_list_and_read_by_a_flow(podium: Podium, tmp_path: Path) -> None:
    source = tmp_path / "project"
    (source / "sql").mkdir(parents=True)
    (source / "readme.txt").write_text("read me\n")
    (source / "sql" / "query.sql").write_text("SELECT 1;\n")
    uploaded = podium.invoke("namespace-files", "upload", "tests.cli", str(source))
    assert uploaded.exit_code == 0, uploaded.output
    assert "2 file(s) uploaded to namespace tests.cli" in uploaded.stdout
    single = podium.invoke("namespace-files", "upload", "tests.cli", str(source / "readme.txt"), "docs")
    assert "uploaded docs/readme.txt" in single.stdout

    listed = json.loads(podium.invoke("namespace-files", "list", "tests.cli", "--json").stdout)
    assert listed == [{"path": "docs/readme.txt", "size": 8}, {"path": "readme.txt", "size": 8},
                      {"path": "sql/query.sql", "size": 10}]
    flow = write(tmp_path, "nsf.yaml", FLOW.format(message="{{ read('sql/query.sql') | trim }}"))
    document = podium.run_json(flow)
    assert [log["message"] for log in document["logs"]] == ["SELECT 1;"]
