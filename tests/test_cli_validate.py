"""``podium flow validate`` and ``podium plugins`` through click's runner and a real process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).parent.parent
INVALID = ROOT / "tests" / "flows" / "invalid"
GOOD = "id: ok\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_valid_folder_exits_0_with_a_summary() -> None:
    result = run("flow", "validate", str(ROOT / "flows"))
    assert result.exit_code == 0, result.output
    assert "company.team.hello_world" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("7 flows valid in 7 files")  # (N warnings)


def test_invalid_file_exits_1_with_positions_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("message: hi", "mesage: hi"))
    result = run("flow", "validate", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{bad}:4:5: tasks[0]: missing required property 'message'"
    assert lines[1] == f"{bad}:6:5: tasks[0].mesage: unknown property 'mesage'; did you mean 'message'?"
    assert lines[-1] == "2 problems in 1 of 1 file"


def test_folders_are_searched_recursively_and_all_files_reported(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.yml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("id: ok", "id: 'bad id'"))
    (tmp_path / "notes.txt").write_text("not a flow")
    result = run("flow", "validate", str(tmp_path))
    assert result.exit_code == 1
    assert "bad.yaml:1:5: id: 'bad id' is not a valid flow id" in result.stderr
    assert "1 problem in 1 of 2 files" in result.stderr


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    result = run("flow", "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "nope.yaml:1:1: no such file or folder" in result.stderr
    assert "Traceback" not in result.output


def test_unserved_worker_group_is_refused_unless_declared(tmp_path: Path) -> None:
    flow = tmp_path / "wg.yaml"
    flow.write_text(GOOD + "    workerGroup:\n      key: gpu\n")
    assert run("flow", "validate", str(flow)).exit_code == 1
    assert run("flow", "validate", "--worker-group", "gpu", str(flow)).exit_code == 0


def test_real_process_never_prints_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "flow", "validate", str(INVALID)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "unknown-task-type.yaml:10:11: tasks[1].type: unknown task type" in proc.stderr


def test_plugins_list_and_schema() -> None:
    listed = run("plugins", "list", "--kind", "trigger")
    assert listed.exit_code == 0
    assert "io.kestra.plugin.core.trigger.Schedule" in listed.stdout
    schema = run("plugins", "schema", "--type", "io.kestra.plugin.core.trigger.Webhook")
    assert json.loads(schema.stdout)["$ref"] == "#/definitions/io.kestra.plugin.core.trigger.Webhook"
    unknown = run("plugins", "schema", "--type", "io.kestra.plugin.core.trigger.Webhok")
    assert unknown.exit_code == 1
    assert "did you mean 'io.kestra.plugin.core.trigger.Webhook'" in unknown.stderr
