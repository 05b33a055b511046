"""The script-task flows a user writes, run by the real ``podium`` on the Docker task runner
(a private dockerd, local images; see tests/docker_engine.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Podium, write
from tests.docker_engine import DockerEngine

CSV_FLOW = """
id: csv_in_containers
namespace: tests.docker
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.python.Script
    containerImage: {python}
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
      networkMode: none
    outputFiles: ["out.csv"]
    script: |
      import csv
      with open("out.csv", "w", newline="") as f:
          csv.writer(f).writerows([["id", "name"], [1, "ada"], [2, "alan"]])
      print('::{{"outputs": {{"rows": 2}}}}::')
  - id: load
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: {busybox}
    runner: DOCKER
    docker:
      pullPolicy: NEVER
      networkMode: none
    commands:
      - wc -l < {{{{ outputs.extract.outputFiles['out.csv'] }}}}
      - echo "rows={{{{ outputs.extract.vars.rows }}}} in $WORKING_DIR"
      - echo "pid1=$(cat /proc/1/comm)"
"""

FAILS_AND_TIMES_OUT = """
id: {id}
namespace: tests.docker
tasks:
  - id: task
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: {busybox}
    timeout: PT2S
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
      networkMode: none
    commands:
      - echo started
      - {command}
"""


@pytest.fixture
def on_engine(tmp_path: Path, docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> Podium:
    """``podium`` with the private engine as DOCKER_HOST (the runner's last resort, as the SDK's)."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    return Podium(data_dir=tmp_path / "data", cwd=tmp_path)


def _logs(cli: Podium, execution_id: str) -> str:
    result = cli.process("execution", "logs", execution_id, "--data-dir", str(cli.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def _task_run(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    [run] = [r for r in document["taskRunList"] if r["taskId"] == task_id]
    return run


def test_a_csv_written_in_one_container_is_read_in_the_next(
        on_engine: Podium, busybox: str, python_in_docker: str, tmp_path: Path) -> None:
    flow = write(tmp_path, "csv.yaml", CSV_FLOW.format(python=python_in_docker, busybox=busybox))
    document = on_engine.run_json(flow)
    assert document["state"]["current"] == "SUCCESS"
    extract = _task_run(document, "extract")
    assert extract["outputs"]["vars"] == {"rows": 2}
    assert extract["outputs"]["outputFiles"]["out.csv"].startswith("kestra://")
    logs = _logs(on_engine, document["id"])
    assert "3" in logs and "rows=2 in /" in logs
    assert "pid1=sh" in logs  # the shell is the first process of its own container, not the host's


def test_an_exit_code_fails_the_task_and_a_timeout_removes_its_container(
        on_engine: Podium, busybox: str, docker_engine: DockerEngine, tmp_path: Path) -> None:
    failing = write(tmp_path, "fails.yaml", FAILS_AND_TIMES_OUT.format(id="fails", busybox=busybox,
                                                                       command="exit 3"))
    document = on_engine.run_json(failing, exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert "exit code 3" in _logs(on_engine, document["id"])

    slow = write(tmp_path, "slow.yaml", FAILS_AND_TIMES_OUT.format(id="slow", busybox=busybox,
                                                                   command="sleep 60"))
    document = on_engine.run_json(slow, exit_code=1)
    assert document["state"]["current"] == "FAILED"
    assert "started" in _logs(on_engine, document["id"])
    left = docker_engine.cli("ps", "-aq", "--filter", "label=io.podium.task-runner=docker")
    assert left.strip() == ""
