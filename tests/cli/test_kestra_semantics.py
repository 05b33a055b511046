"""Where Kestra's semantics are subtle, as a user meets them through ``podium run``: Switch cases
keyed by any YAML scalar, log.Fetch counts, ForEachItem's internal task runs, WorkingDirectory
inside Parallel and ForEach."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import ENDED, Podium, log_messages, task_run, task_states, write

CORE = "io.kestra.plugin.core."


def _task_ids(document: dict[str, Any]) -> list[str]:
    return [run["taskId"] for run in document["taskRunList"]]


def test_switch_cases_keyed_by_numbers_and_booleans_match_the_rendered_value(podium: Podium,
                                                                             tmp_path: Path) -> None:
    flow = write(tmp_path, "switch.yaml", f"""\
id: switch-scalars
namespace: tests.cli
inputs:
  - id: v
    type: STRING
tasks:
  - id: switch
    type: {CORE}flow.Switch
    value: "{{{{ inputs.v }}}}"
    cases:
      1:
        - id: one
          type: {CORE}log.Log
          message: one
      true:
        - id: yes
          type: {CORE}log.Log
          message: "yes"
      2.5:
        - id: two-and-a-half
          type: {CORE}log.Log
          message: "2.5"
""")
    validated = podium.process("flow", "validate", str(flow))
    assert validated.returncode == 0, validated.stderr
    for value, task in (("1", "one"), ("true", "yes"), ("2.5", "two-and-a-half")):
        document = podium.run_json(flow, "--inputs", json.dumps({"v": value}), exit_code=ENDED)
        assert document["state"]["current"] == "SUCCESS"
        assert _task_ids(document) == ["switch", task]
    # 1 and true are two keys, as they are two texts in Kestra (Python's 1 == True is not)
    assert podium.run_json(flow, "--inputs", '{"v": "True"}', exit_code=ENDED)["state"]["current"] == "FAILED"


def test_fetch_counts_every_line_of_the_execution_at_info_or_above(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "fetch.yaml", f"""\
id: fetch-count
namespace: tests.cli
tasks:
  - id: hello
    type: {CORE}log.Log
    message: hello
  - id: quiet
    type: {CORE}log.Log
    level: DEBUG
    message: not fetched at INFO
  - id: nap
    type: {CORE}flow.Sleep
    duration: PT0.01S
  - id: fetch
    type: {CORE}log.Fetch
  - id: fetch-debug
    type: {CORE}log.Fetch
    level: DEBUG
    tasksId: [quiet, nap]
""")
    document = podium.run_json(flow, exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS"
    nap_logs = log_messages(document, "nap")
    assert nap_logs == ["Waiting for PT0.01S"]  # Kestra's Sleep logs its duration at INFO
    assert task_run(document, "fetch")["outputs"]["size"] == 2  # hello, Waiting for PT0.01S
    assert task_run(document, "fetch-debug")["outputs"]["size"] == 2


def test_for_each_item_shows_its_split_items_and_merge_task_runs(podium: Podium, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    write(flows, "child.yaml", f"""\
id: child
namespace: tests.cli
inputs:
  - id: items
    type: STRING
  - id: n
    type: INT
tasks:
  - id: read
    type: {CORE}debug.Return
    format: "{{{{ inputs.n }}}}:{{{{ read(inputs.items) | trim }}}}"
outputs:
  - id: value
    type: STRING
    value: "{{{{ outputs.read.value }}}}"
""")
    parent = write(flows, "parent.yaml", f"""\
id: parent
namespace: tests.cli
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: {CORE}flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch:
      rows: 2
    namespace: tests.cli
    flowId: child
    inputs:
      items: "{{{{ taskrun.items }}}}"
      n: "{{{{ taskrun.iteration }}}}"
  - id: merged
    type: {CORE}debug.Return
    format: "{{{{ read(outputs.each_merge.subflowOutputs) }}}}"
""")
    items = write(tmp_path, "items.txt", "a\nb\nc\n")
    document = podium.run_json(parent, "--flows", str(flows), "--inputs", json.dumps({"file": str(items)}),
                               exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS"
    assert _task_ids(document) == ["each", "each_split", "each_items", "each_merge", "merged"]
    each = task_run(document, "each")
    assert [run["parentTaskRunId"] for run in document["taskRunList"][1:4]] == [each["id"]] * 3
    assert each["outputs"] == {}
    assert task_run(document, "each_split")["outputs"]["splits"].endswith("/splits.txt")
    assert task_run(document, "each_items")["outputs"] == {
        "numberOfBatches": 2, "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2}}
    merged = [json.loads(line) for line in task_run(document, "merged")["outputs"]["value"].splitlines()]
    assert merged == [{"value": "0:a\nb"}, {"value": "1:c"}]  # taskrun.iteration counts from 0


def test_for_each_item_failed_batches_with_allow_failure_end_in_warning(podium: Podium, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    write(flows, "child.yaml", f"""\
id: child
namespace: tests.cli
inputs:
  - id: items
    type: STRING
tasks:
  - id: fail
    type: {CORE}execution.Fail
""")
    parent = write(flows, "parent.yaml", f"""\
id: parent
namespace: tests.cli
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: {CORE}flow.ForEachItem
    allowFailure: true
    items: "{{{{ inputs.file }}}}"
    namespace: tests.cli
    flowId: child
    inputs:
      items: "{{{{ taskrun.items }}}}"
  - id: after
    type: {CORE}log.Log
    message: still here
""")
    items = write(tmp_path, "items.txt", "a\nb\n")
    document = podium.run_json(parent, "--flows", str(flows), "--inputs", json.dumps({"file": str(items)}),
                               exit_code=ENDED)
    assert document["state"]["current"] == "WARNING"
    states = task_states(document)
    assert states == {"each": "WARNING", "each_split": "SUCCESS", "each_items": "FAILED", "after": "SUCCESS"}
    assert task_run(document, "each_items")["outputs"]["iterations"]["FAILED"] == 2


def test_working_directory_in_for_each_and_parallel_runs_the_right_children(podium: Podium,
                                                                            tmp_path: Path) -> None:
    flow = write(tmp_path, "wd.yaml", f"""\
id: wd-nested
namespace: tests.cli
tasks:
  - id: each
    type: {CORE}flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: 0
    tasks:
      - id: group
        type: {CORE}flow.Parallel
        tasks:
          - id: dir
            type: {CORE}flow.WorkingDirectory
            tasks:
              - id: write
                type: {CORE}debug.Return
                format: in parallel
          - id: other
            type: {CORE}debug.Return
            format: beside
      - id: dir2
        type: {CORE}flow.WorkingDirectory
        tasks:
          - id: only-b
            type: {CORE}debug.Return
            runIf: "{{{{ taskrun.value == 'b' }}}}"
            format: b only
          - id: value
            type: {CORE}debug.Return
            format: "{{{{ taskrun.value }}}}"
  - id: last
    type: {CORE}debug.Return
    format: "{{{{ outputs.write.a.value }}}}|{{{{ outputs.value.a.value }}}}{{{{ outputs.value.b.value }}}}"
""")
    document = podium.run_json(flow, exit_code=ENDED)
    assert document["state"]["current"] == "SUCCESS"
    runs = {(run["taskId"], _chain(document, run)): run for run in document["taskRunList"]}
    assert runs[("only-b", ("a",))]["state"]["current"] == "SKIPPED"  # runIf inside a WorkingDirectory
    assert runs[("only-b", ("a",))]["attempts"] in (None, [])
    assert runs[("only-b", ("b",))]["outputs"] == {"value": "b only"}
    assert runs[("dir2", ("b",))]["value"] == "b" and runs[("value", ("b",))]["outputs"] == {"value": "b"}
    assert runs[("value", ("b",))].get("value") is None  # Kestra stores WorkingDirectory children without one
    assert len([run for run in document["taskRunList"] if run["taskId"] == "write"]) == 2
    assert task_run(document, "last")["outputs"]["value"] == "in parallel|ab"


def _chain(document: dict[str, Any], run: dict[str, Any]) -> tuple[str, ...]:
    """The values of the run and its ancestors, outermost first (how outputs are keyed)."""
    by_id = {r["id"]: r for r in document["taskRunList"]}
    chain: list[str] = []
    while run is not None:
        if run.get("value") is not None:
            chain.insert(0, run["value"])
        run = by_id.get(run.get("parentTaskRunId"))  # type: ignore[assignment]
    return tuple(chain)
