"""Helpers of the CLI suite: the real ``podium`` executable on a temporary data folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main

PODIUM = [sys.executable, "-m", "cli"]
ROOT = Path(__file__).resolve().parents[2]
ENDED = (0, 1)  # the exit codes of a run that ended: SUCCESS, or FAILED/KILLED/CANCELLED (2 is a refusal)


@dataclass
class Podium:
    """Runs podium commands against one data folder (``--data-dir`` added where it belongs)."""

    data_dir: Path
    cwd: Path

    def process(self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None,
                unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """A real ``podium`` process (the embedded Celery runtime runs inside it): the caller's
        environment less PODIUM_* and the ``unset`` prefixes, plus ``env``."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", *unset))}
        environ.update(env or {})
        environ["PYTHONPATH"] = str(ROOT)  # the same source tree as this test, whatever is installed
        return subprocess.run([*PODIUM, *args], cwd=self.cwd, env=environ, capture_output=True, text=True,
                              timeout=timeout)

    def run(self, flow: Path, *args: str, exit_code: int | tuple[int, ...] = 0,
            env: Mapping[str, str] | None = None, unset: tuple[str, ...] = (),
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``podium run FLOW --json``, ended with (one of) ``exit_code`` and without a traceback."""
        result = self.process("run", str(flow), "--json", "--data-dir", str(self.data_dir), *args,
                              timeout=timeout, env=env, unset=unset)
        assert result.returncode in ((exit_code,) if isinstance(exit_code, int) else exit_code), result.stderr
        assert "Traceback" not in result.stderr
        return result

    def run_json(self, flow: Path, *args: str, exit_code: int | tuple[int, ...] = 0,
                 env: Mapping[str, str] | None = None, unset: tuple[str, ...] = (),
                 timeout: float = 120) -> dict[str, Any]:
        """The execution that ``podium run FLOW --json`` prints (see ``run``)."""
        return execution_of(self.run(flow, *args, exit_code=exit_code, env=env, unset=unset, timeout=timeout))

    def invoke(self, *args: str, columns: int = 80) -> Result:
        """A command through click's runner, in this process (fast; no Celery worker needed)."""
        return CliRunner().invoke(main, [*args, "--data-dir", str(self.data_dir)], catch_exceptions=False,
                                  env={"COLUMNS": str(columns)})


@pytest.fixture
def podium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Podium:
    for name in [n for n in os.environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    return Podium(data_dir=tmp_path / "data", cwd=tmp_path)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def execution_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object that ``podium run --json`` prints."""
    [line] = result.stdout.strip().splitlines()
    document = json.loads(line)
    assert isinstance(document, dict)
    return document


def task_states(document: dict[str, Any]) -> dict[str, str]:
    """Each task id's current state (the last run of an id that ran several times)."""
    return {run["taskId"]: run["state"]["current"] for run in document["taskRunList"]}


def task_run(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The first task run of ``task_id``."""
    run: dict[str, Any] = next(run for run in document["taskRunList"] if run["taskId"] == task_id)
    return run


def log_messages(document: dict[str, Any], task_id: str | None, level: str | None = None) -> list[str]:
    """The messages logged by ``task_id`` (None: by the flow itself), of ``level`` if given."""
    return [log["message"] for log in document["logs"]
            if log.get("taskId") == task_id and (level is None or log["level"] == level)]
