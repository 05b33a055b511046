"""What CI reads from ``podium run``: the exit code of each final state, the JSON in every one of
them, exit 2 for a refused flow or inputs; and ``podium execution list`` keeping ids whole."""
from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Podium, write

FAILS = """\
id: fails
namespace: tests.cli
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: it broke
"""
WARNS = """\
id: warns
namespace: tests.cli
inputs:
  - id: n
    type: INT
tasks:
  - id: tolerated
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "went on with {{ inputs.n }}"
"""
LONG_NAME = """\
id: a_flow_with_a_rather_long_name_that_a_narrow_terminal_cannot_hold
namespace: tests.cli.some.deep.namespace
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_run_exits_1_on_failed_and_prints_the_tree_and_the_json(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "fails.yaml", FAILS)
    document = podium.run_json(flow, exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert "it broke" in [log["message"] for log in document["logs"]]
    human = podium.process("run", str(flow), "--data-dir", str(podium.data_dir))
    assert human.returncode == 1, human.stderr
    assert "tests.cli.fails" in human.stdout and "boom  FAILED" in human.stdout
    assert "Traceback" not in human.stderr


def test_run_exits_0_on_warning_and_1_with_strict(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "warns.yaml", WARNS)
    document = podium.run_json(flow, "-i", "n=3", exit_code=0)
    assert document["state"]["current"] == "WARNING"
    strict = podium.run_json(flow, "-i", "n=3", "--strict", exit_code=1)
    assert strict["state"]["current"] == "WARNING"
    assert "went on with 3" in [log["message"] for log in strict["logs"]]


def test_run_exits_2_when_the_flow_or_its_inputs_are_refused(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "warns.yaml", WARNS)
    missing = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir))
    assert missing.returncode == 2 and missing.stdout == ""
    assert "n" in missing.stderr and "Traceback" not in missing.stderr
    broken = write(tmp_path, "broken.yaml", FAILS.replace("execution.Fail", "execution.Nope"))
    refused = podium.process("run", str(broken), "--json", "--data-dir", str(podium.data_dir))
    assert refused.returncode == 2 and refused.stdout == ""
    assert f"{broken}:5:11:" in refused.stderr and "Traceback" not in refused.stderr


def test_execution_list_never_cuts_an_id_in_a_narrow_terminal(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "long.yaml", LONG_NAME)
    ran = podium.run_json(flow)
    flow_name = f"{ran['namespace']}.{ran['flowId']}"
    for columns in (100, 60, 40, 24):
        listed = podium.invoke("execution", "list", columns=columns)
        assert listed.exit_code == 0, listed.output
        assert ran["id"] in listed.stdout, (columns, listed.stdout)
        assert "…" not in listed.stdout
        if columns >= 40:  # the other columns fold: every character of the flow is there
            folded = "".join(line.split("│")[2].strip() for line in listed.stdout.splitlines()
                             if line.count("│") > 2)
            assert flow_name in folded, (columns, listed.stdout)
            assert "SUCCESS" in listed.stdout
        assert listed.stdout.rstrip().endswith("1 of 1 executions")
    assert [item["id"] for item in json.loads(podium.invoke("execution", "list", "--json").stdout)] == [ran["id"]]
