"""Kestra 1.x flow spellings as a user meets them: ``podium run`` and ``podium flow validate`` of
small flows (retry.maxAttempts, Pause pauseDuration/behavior, BOOL, prefill, autoSelectFirst,
allowedFileExtensions, rendered defaults with dependsOn, reserved flow ids, task types that
cannot run here). Each 0.21 spelling keeps working beside its 1.x name."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.cli.conftest import Podium, task_states, write

CORE = "io.kestra.plugin.core."


def _validate(flow: Path) -> Result:
    """``podium flow validate`` in this process (no instance is needed)."""
    return CliRunner().invoke(main, ["flow", "validate", str(flow)], catch_exceptions=False)


def test_retry_max_attempts_and_its_old_name_count_the_first_attempt(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "retry.yaml", f"""\
id: retry_1x
namespace: tests.cli
tasks:
  - id: new_name
    type: {CORE}execution.Fail
    allowFailure: true
    retry: {{type: constant, interval: PT1S, maxAttempts: 2}}
  - id: old_name
    type: {CORE}execution.Fail
    allowFailure: true
    retry: {{type: constant, interval: PT1S, maxAttempt: 2}}
""")
    document = podium.run_json(flow)
    attempts = {run["taskId"]: len(run["attempts"]) for run in document["taskRunList"]}
    assert attempts == {"new_name": 2, "old_name": 2}
    assert document["state"]["current"] == "WARNING"


@pytest.mark.parametrize(("behavior", "exit_code", "execution", "states"), [
    ("WARN", 0, "WARNING", {"pause": "WARNING", "after": "SUCCESS"}),
    ("CANCEL", 1, "CANCELLED", {"pause": "CANCELLED"}),
])
def test_pause_behavior_decides_the_end_of_the_pause_duration(
        podium: Podium, tmp_path: Path, behavior: str, exit_code: int, execution: str,
        states: dict[str, str]) -> None:
    flow = write(tmp_path, "pause.yaml", f"""\
id: pause_1x
namespace: tests.cli
tasks:
  - id: pause
    type: {CORE}flow.Pause
    pauseDuration: PT1S
    behavior: {behavior}
  - id: after
    type: {CORE}log.Log
    message: after the pause
""")
    document = podium.run_json(flow, exit_code=exit_code)
    assert document["state"]["current"] == execution and task_states(document) == states


INPUTS = f"""\
id: inputs_1x
namespace: tests.cli
inputs:
  - id: release_env
    type: SELECT
    values: [PROD, DEV]
    autoSelectFirst: true
  - id: notify
    type: BOOL
    defaults: "{{{{ inputs.release_env == 'PROD' ? true : false }}}}"
    dependsOn:
      inputs: [release_env]
  - id: old_bool
    type: BOOLEAN
    defaults: false
  - id: note
    type: STRING
    required: false
    prefill: a suggestion
  - id: tags
    type: MULTISELECT
    values: [a, b]
    autoSelectFirst: true
tasks:
  - id: show
    type: {CORE}log.Log
    message: "{{{{ inputs }}}}"
"""


def test_1x_inputs_take_their_prefill_first_value_and_rendered_defaults(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "inputs.yaml", INPUTS)
    chosen = podium.run_json(flow)["inputs"]
    assert chosen == {"release_env": "PROD", "notify": True, "old_bool": False, "note": "a suggestion",
                      "tags": ["a"]}
    # a value given wins; the default that uses it follows it; a prefill sent empty is cleared
    given = podium.run_json(flow, "--inputs", '{"release_env": "DEV", "note": null, "tags": ["b"]}')["inputs"]
    assert given == {"release_env": "DEV", "notify": False, "old_bool": False, "note": None, "tags": ["b"]}


def test_allowed_file_extensions_refuse_another_file_before_it_is_stored(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "file.yaml", f"""\
id: file_1x
namespace: tests.cli
inputs:
  - id: doc
    type: FILE
    allowedFileExtensions: [".md", "txt"]
tasks:
  - id: show
    type: {CORE}log.Log
    message: "{{{{ inputs.doc }}}}"
""")
    write(tmp_path, "data.csv", "a,b\n")
    write(tmp_path, "notes.TXT", "hello\n")
    refused = podium.process("run", str(flow), "--data-dir", str(podium.data_dir), "-i", f"doc={tmp_path / 'data.csv'}")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"error: Invalid input for `doc`, the file must have one of the extensions [.md, .txt] (the input's "
        f"allowedFileExtensions), but received `{tmp_path / 'data.csv'}`")
    assert not list(podium.data_dir.rglob("data.csv"))  # refused before the upload
    document = podium.run_json(flow, "-i", f"doc={tmp_path / 'notes.TXT'}")
    assert document["inputs"]["doc"].startswith("kestra:///") and document["inputs"]["doc"].endswith("notes.TXT")


def test_a_default_reading_the_execution_is_refused_with_how_to_fix_it(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "session.yaml", f"""\
id: session
namespace: tests.cli
inputs:
  - id: session_id
    type: STRING
    defaults: "{{{{ execution.id }}}}"
tasks:
  - id: show
    type: {CORE}log.Log
    message: "{{{{ inputs.session_id }}}}"
""")
    result = podium.process("run", str(flow), "--data-dir", str(podium.data_dir))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Invalid input for `session_id`, its default `{{ execution.id }}` "
                                    "failed to render")
    assert "`execution.*` is not known yet" in result.stderr


def test_validate_accepts_1x_and_0_21_spellings_together(tmp_path: Path) -> None:
    flow = write(tmp_path, "both.yaml", f"""\
id: both
namespace: tests.cli
inputs:
  - {{id: a, type: BOOL, defaults: true}}
  - {{id: b, type: BOOLEAN, prefill: false, required: false}}
tasks:
  - {{id: p1, type: {CORE}flow.Pause, pauseDuration: PT1M, behavior: FAIL}}
  - {{id: p2, type: {CORE}flow.Pause, delay: PT1M}}
  - {{id: t, type: {CORE}log.Log, message: hi, retry: {{type: constant, interval: PT1S, maxAttempt: 3}}}}
""")
    result = _validate(flow)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(("line", "problem"), [
    ("delay: PT1M, pauseDuration: PT2M",
     "tasks[0]: 'delay' and 'pauseDuration' are the same property ('delay' is its deprecated name); "
     "keep only 'pauseDuration'"),
    ("pauseDuration: PT1M, behavior: STOP",
     "tasks[0].behavior: 'STOP' is not a Pause behavior; use one of RESUME, WARN, FAIL, CANCEL"),
])
def test_validate_refuses_a_pause_spelled_both_ways_or_an_unknown_behavior(
        tmp_path: Path, line: str, problem: str) -> None:
    flow = write(tmp_path, "bad.yaml", f"id: bad\nnamespace: tests.cli\ntasks:\n"
                                      f"  - {{id: p, type: {CORE}flow.Pause, {line}}}\n")
    result = _validate(flow)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].split(": ", 1)[1] == problem


def test_validate_refuses_prefill_with_defaults(tmp_path: Path) -> None:
    flow = write(tmp_path, "both.yaml", f"""\
id: both
namespace: tests.cli
inputs:
  - {{id: a, type: STRING, defaults: x, prefill: y}}
tasks:
  - {{id: t, type: {CORE}log.Log, message: hi}}
""")
    result = _validate(flow)
    assert result.exit_code == 1
    assert "inputs[0].prefill: `prefill` and `defaults` cannot be used together" in result.stderr


def test_a_reserved_flow_id_is_refused_with_the_fix(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "kill.yaml", f"id: kill\nnamespace: tests.cli\ntasks:\n"
                                       f"  - {{id: t, type: {CORE}log.Log, message: hi}}\n")
    result = _validate(flow)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{flow}:1:5: id: 'kill' is a reserved flow id (Kestra 1.0+ refuses pause, resume, force-run, "
        "change-status, kill, executions, search, source, disable, enable); rename the flow, e.g. 'kill-flow'")
    assert podium.process("run", str(flow), "--data-dir", str(podium.data_dir)).returncode == 2


UNRUNNABLE = f"""\
id: unrunnable
namespace: tests.cli
tasks:
  - id: hello
    type: {CORE}log.Log
    message: hi
  - id: query
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    url: jdbc:postgresql://localhost/db
    table: t
    from: kestra:///tests/cli/unrunnable/data.csv
"""


def test_validate_warns_and_run_refuses_a_task_type_that_cannot_run_here(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "unrunnable.yaml", UNRUNNABLE)
    message = (f"{flow}:8:11: tasks[1].type: task type 'io.kestra.plugin.jdbc.postgresql.CopyIn' is known but "
               "cannot run in this installation: it is not implemented in Podium yet; replace the task "
               "(`podium plugins list` marks the types that run)")
    validated = _validate(flow)
    assert validated.exit_code == 0
    assert validated.stderr.splitlines() == [f"warning: {message}"]
    assert validated.stdout.splitlines()[-1] == "1 flow valid in 1 file (1 warning)"
    ran = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir))
    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr.splitlines() == [f"error: {message}"]
