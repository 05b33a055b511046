"""``podium run FLOW --json``: the conformance contract, errors without tracebacks, the tree view."""
from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import ROOT, Podium, write

FLOW = """\
id: cli_flow
namespace: tests.cli
inputs:
  - id: n
    type: INT
    defaults: 2
tasks:
  - id: triple
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n * 3 }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b]
    tasks:
      - id: item
        type: io.kestra.plugin.core.log.Log
        message: "item {{ taskrun.value }} of {{ outputs.triple.value }}"
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.triple.value }}"
"""


def test_run_json_prints_one_execution_with_the_conformance_contract(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "tests-flow.yaml", FLOW)
    document = podium.run_json(flow, "--inputs", '{"n": 5}', "--labels", '{"who": "cli"}')
    assert document["namespace"] == "tests.cli" and document["flowId"] == "cli_flow"
    assert document["state"]["current"] == "SUCCESS"
    assert document["inputs"] == {"n": 5}
    assert document["outputs"] == {"result": "15"}
    assert {"key": "who", "value": "cli"} in document["labels"]
    runs = document["taskRunList"]
    assert [(r["taskId"], r.get("value")) for r in runs] == [("triple", None), ("each", None),
                                                           ("item", "a"), ("item", "b")]
    by_task = {r["taskId"]: r for r in runs}
    assert by_task["triple"]["outputs"] == {"value": "15"}
    assert all(r["state"]["current"] == "SUCCESS" for r in runs)
    items = [r for r in runs if r["taskId"] == "item"]
    assert {r["parentTaskRunId"] for r in items} == {by_task["each"]["id"]}
    assert all([a["state"]["current"] for a in r["attempts"]] == ["SUCCESS"] for r in items)
    assert by_task["triple"]["attempts"][0]["state"]["current"] == "SUCCESS"
    logs = [(log["taskId"], log["level"], log["message"]) for log in document["logs"]]
    assert ("item", "INFO", "item a of 15") in logs and ("item", "INFO", "item b of 15") in logs
    assert all(log["taskRunId"] in {r["id"] for r in runs} for log in document["logs"])


def test_run_json_of_a_failing_flow_exits_1_with_the_failed_state(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "fails.yaml", FLOW.replace(
        "type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.n * 3 }}\"",
        "type: io.kestra.plugin.core.execution.Fail\n    errorMessage: \"no {{ inputs.n }}\""))
    document = podium.run_json(flow, exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert [(r["taskId"], r["state"]["current"]) for r in document["taskRunList"]] == [("triple", "FAILED")]
    assert any(log["level"] == "ERROR" and log["message"] == "no 2" for log in document["logs"])


def test_run_the_hello_world_example(podium: Podium) -> None:
    document = podium.run_json(ROOT / "flows" / "hello_world.yaml", "-i", "user=Ada")
    assert document["state"]["current"] == "SUCCESS"
    messages = [log["message"] for log in document["logs"]]
    assert "Ada, we are thrilled to have you here!" in messages


def test_an_invalid_flow_exits_non_zero_with_its_position_and_no_traceback(podium: Podium,
                                                                        tmp_path: Path) -> None:
    flow = write(tmp_path, "broken.yaml", FLOW.replace("debug.Return", "debug.Nope"))
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir))
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"{flow}:9:11:" in result.stderr
    assert "unknown task type 'io.kestra.plugin.core.debug.Nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_inputs_json_is_a_clear_usage_error(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "tests-flow.yaml", FLOW)
    result = podium.process("run", str(flow), "--inputs", "{bad", "--data-dir", str(podium.data_dir))
    assert result.returncode == 2
    assert "Invalid value for --inputs: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    result = podium.process("run", str(flow), "--inputs", "[1, 2]", "--data-dir", str(podium.data_dir))
    assert result.returncode == 2 and "must be a JSON object" in result.stderr


def test_an_invalid_input_value_is_refused_with_kestras_message(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "tests-flow.yaml", FLOW)
    result = podium.process("run", str(flow), "--json", "--inputs", '{"n": "x"}',
                            "--data-dir", str(podium.data_dir))
    assert result.returncode != 0 and result.stdout == ""
    assert "Invalid input for `n`, it must be an integer, but received `x`" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_shows_the_task_tree_to_a_person(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "tests-flow.yaml", FLOW)
    result = podium.process("run", str(flow), "--data-dir", str(podium.data_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "tests.cli.cli_flow" in lines[0] and "SUCCESS" in lines[0]
    tree = "\n".join(lines[:6])
    for row in ("triple  SUCCESS", "each  SUCCESS", "item [a]  SUCCESS", "item [b]  SUCCESS"):
        assert row in tree
    item_line = next(line for line in lines if "item [a]" in line)
    each_line = next(line for line in lines if "each  SUCCESS" in line)
    assert item_line.index("item") > each_line.index("each")  # children are indented under `each`
    assert "item a of 6" in result.stdout  # the logs table follows


def test_run_keeps_the_execution_in_the_data_dir(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "tests-flow.yaml", FLOW)
    document = podium.run_json(flow)
    listed = podium.invoke("execution", "show", document["id"], "--json")
    assert listed.exit_code == 0, listed.output
    assert '"state"' in listed.output and document["id"] in listed.output


def test_run_deploys_the_flows_folder_first_so_subflows_resolve(podium: Podium, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    write(folder, "child.yaml", """\
id: child
namespace: tests.cli
inputs:
  - id: who
    type: STRING
tasks:
  - id: hi
    type: io.kestra.plugin.core.debug.Return
    format: "hi {{ inputs.who }}"
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.hi.value }}"
""")
    parent = write(tmp_path, "parent.yaml", """\
id: parent
namespace: tests.cli
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.cli
    flowId: child
    inputs:
      who: Grace
""")
    document = podium.run_json(parent, "--flows", str(folder))
    assert document["state"]["current"] == "SUCCESS"
    [call] = document["taskRunList"]
    assert call["outputs"]["outputs"] == {"said": "hi Grace"}
    assert call["outputs"]["state"] == "SUCCESS"


def test_a_failing_task_shows_one_line_and_no_traceback_unless_debug(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "broken.yaml", """\
id: broken
namespace: tests.cli
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: it broke
""")
    shown = podium.process("run", str(flow), "--data-dir", str(podium.data_dir))
    assert shown.returncode == 1
    assert "it broke" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr and "engine/" not in shown.stdout
    debug = podium.process("run", str(flow), "--data-dir", str(podium.data_dir), "--log-level", "DEBUG")
    assert debug.returncode == 1 and "executor step" in debug.stderr  # the process's own logs, on stderr
    assert "Traceback" not in debug.stdout  # a flow's own failure has no traceback, even at DEBUG
