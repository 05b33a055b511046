"""Kestra 1.x flow-level features as a user meets them through ``podium run``: afterExecution
(the run returns once its tasks ended), consistent task run histories, checks and SLAs."""
from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.cli.conftest import Podium, log_messages, task_states, write

CORE = "io.kestra.plugin.core."


def _dates(run: dict[str, Any]) -> list[datetime]:
    dates = [h["date"] for h in run["state"]["histories"]]
    dates += [h["date"] for attempt in run.get("attempts", []) for h in attempt["state"]["histories"]]
    return [datetime.fromisoformat(date) for date in dates]


def test_run_returns_once_the_after_execution_tasks_ended(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "after.yaml", f"""\
id: after
namespace: tests.cli
tasks:
  - id: main
    type: {CORE}execution.Fail
afterExecution:
  - id: notify
    type: {CORE}log.Log
    message: "after {{{{ execution.state }}}}"
  - id: nap
    type: {CORE}flow.Sleep
    duration: PT0.5S
  - id: last
    type: {CORE}log.Log
    message: "last"
    runIf: "{{{{ execution.state == 'FAILED' }}}}"
""")
    document = podium.run_json(flow, exit_code=1)
    assert document["state"]["current"] == "FAILED"  # afterExecution tasks do not change it
    assert task_states(document) == {"main": "FAILED", "notify": "SUCCESS", "nap": "SUCCESS", "last": "SUCCESS"}
    assert log_messages(document, "notify") == ["after FAILED"]
    assert log_messages(document, "last") == ["last"]


def test_a_sequence_never_shows_a_state_before_the_previous_task_ended(podium: Podium, tmp_path: Path) -> None:
    tasks = "\n".join(f"""\
  - id: t{i}
    type: {CORE}{"flow.Sleep" if i % 3 == 1 else "log.Log"}
    {"duration: PT0.3S" if i % 3 == 1 else f"message: step {i}"}""" for i in range(7))
    flow = write(tmp_path, "seq.yaml", f"id: seq\nnamespace: tests.cli\ntasks:\n{tasks}\n")
    document = podium.run_json(flow, exit_code=0)
    runs = document["taskRunList"]
    assert [run["taskId"] for run in runs] == [f"t{i}" for i in range(7)]
    for before, after in itertools.pairwise(runs):
        ended = datetime.fromisoformat(before["state"]["histories"][-1]["date"])
        assert min(_dates(after)) >= ended, (before["state"], after["state"])
        dates = [datetime.fromisoformat(h["date"]) for h in after["state"]["histories"]]
        assert dates == sorted(dates)


def test_a_flow_trigger_fires_on_paused_when_its_conditions_ask(podium: Podium, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    write(flows, "on_paused.yaml", f"""\
id: on_paused
namespace: tests.cli
tasks:
  - id: tell
    type: {CORE}log.Log
    message: "{{{{ trigger.flowId }}}} is {{{{ trigger.state }}}}"
triggers:
  - id: approval_needed
    type: {CORE}trigger.Flow
    conditions:
      - type: {CORE}condition.ExecutionFlow
        namespace: tests.cli
        flowId: approve
      - type: {CORE}condition.ExecutionStatus
        in: [PAUSED]
""")
    upstream = write(tmp_path, "approve.yaml", f"""\
id: approve
namespace: tests.cli
tasks:
  - id: wait
    type: {CORE}flow.Pause
    delay: PT1S
  - id: done
    type: {CORE}log.Log
    message: resumed
""")
    document = podium.run_json(upstream, "--flows", str(flows), exit_code=0)
    assert document["state"]["current"] == "SUCCESS"
    listed = podium.invoke("execution", "list", "--flow", "on_paused", "--json")
    assert listed.exit_code == 0, listed.output
    executions = json.loads(listed.output)
    items = executions["items"] if isinstance(executions, dict) else executions
    assert len(items) == 1  # PAUSED only: not the resume, not the end
    assert items[0]["trigger"]["variables"]["state"] == "PAUSED"


def test_validate_accepts_allow_concurrent_on_a_trigger(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "hourly.yaml", f"""\
id: hourly
namespace: tests.cli
tasks:
  - id: say
    type: {CORE}log.Log
    message: hi
triggers:
  - id: every_hour
    type: {CORE}trigger.Schedule
    cron: "0 * * * *"
    allowConcurrent: true
""")
    result = podium.process("flow", "validate", str(flow))
    assert result.returncode == 0, result.stdout + result.stderr


CHECKED = f"""\
id: checked
namespace: tests.cli
inputs:
  - id: env
    type: STRING
    defaults: dev
checks:
  - condition: "{{{{ inputs.env != 'prod' }}}}"
    message: "prod is frozen this week"
    style: ERROR
  - condition: "{{{{ inputs.env != 'staging' }}}}"
    message: "staging runs fail"
    behavior: FAIL_EXECUTION
  - condition: "{{{{ inputs.env == 'dev' }}}}"
    message: "not dev: be careful"
    style: WARNING
    behavior: CREATE_EXECUTION
tasks:
  - id: say
    type: {CORE}log.Log
    message: "env {{{{ inputs.env }}}}"
afterExecution:
  - id: after
    type: {CORE}log.Log
    message: "after {{{{ execution.state }}}}"
"""


def test_a_blocking_check_refuses_the_execution_with_its_message(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "checked.yaml", CHECKED)
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir), "-i", "env=prod")
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: execution of flow tests.cli.checked blocked") and "prod is frozen this week" in line
    broken = write(tmp_path, "broken.yaml", CHECKED.replace("inputs.env != 'prod'", "inputs.nope.deeper"))
    result = podium.process("run", str(broken), "--data-dir", str(podium.data_dir))
    assert result.returncode == 2 and "Failed to evaluate check condition" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_check_creates_the_execution_failed(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "checked.yaml", CHECKED), "-i", "env=staging", exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert task_states(document) == {"after": "SUCCESS"}  # no task ran; afterExecution did
    assert "staging runs fail" in log_messages(document, None)
    assert log_messages(document, "after") == ["after FAILED"]


def test_a_check_that_lets_the_execution_run_logs_its_message(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "checked.yaml", CHECKED), "-i", "env=qa", exit_code=0)
    assert task_states(document) == {"say": "SUCCESS", "after": "SUCCESS"}
    assert [(log["level"], log["message"]) for log in document["logs"] if log.get("taskId") is None] == \
        [("WARN", "not dev: be careful")]
    assert podium.run_json(write(tmp_path, "dev.yaml", CHECKED), exit_code=0)["state"]["current"] == "SUCCESS"


def test_slas_end_the_execution_with_their_behaviour_and_labels(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "sla.yaml", f"""\
id: sla_flow
namespace: tests.cli
inputs:
  - id: limit
    type: STRING
    defaults: PT1S
sla:
  - id: too_long
    type: MAX_DURATION
    duration: PT1S
    behavior: CANCEL
    labels:
      sla: miss
  - id: never_fail
    type: EXECUTION_ASSERTION
    assert: "{{{{ outputs.first is not defined or outputs.first.value != 'boom' }}}}"
    behavior: FAIL
tasks:
  - id: first
    type: {CORE}debug.Return
    format: "{{{{ inputs.limit == 'boom' ? 'boom' : 'fine' }}}}"
  - id: sleepy
    type: {CORE}flow.Sleep
    duration: PT3S
  - id: never
    type: {CORE}log.Log
    message: never
""")
    document = podium.run_json(flow, exit_code=1)
    assert document["state"]["current"] == "CANCELLED"
    assert task_states(document) == {"first": "SUCCESS", "sleepy": "CANCELLED"}
    assert {"key": "sla", "value": "miss"} in document["labels"]
    assert any(m.startswith("SLA 'too_long' violated") for m in log_messages(document, None))
    failed = podium.run_json(flow, "-i", "limit=boom", exit_code=1)
    assert failed["state"]["current"] == "FAILED" and "never" not in task_states(failed)
    assert any("SLA 'never_fail' violated: assertion is false" in m for m in log_messages(failed, None))
