"""Helpers of the CLI suite: the real ``podium`` executable on a temporary data folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main

PODIUM = [sys.executable, "-m", "cli"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Podium:
    """Runs podium commands against one data folder (``--data-dir`` added where it belongs)."""

    data_dir: Path
    cwd: Path

    def process(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A real ``podium`` process (the embedded Celery runtime runs inside it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        env["PYTHONPATH"] = str(ROOT)  # the same source tree as this test, whatever is installed
        return subprocess.run([*PODIUM, *args], cwd=self.cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)

    def run_json(self, flow: Path, *args: str, exit_code: int = 0) -> dict[str, Any]:
        result = self.process("run", str(flow), "--json", "--data-dir", str(self.data_dir), *args)
        assert result.returncode == exit_code, result.stderr
        [line] = result.stdout.strip().splitlines()  # exactly one JSON object
        document = json.loads(line)
        assert isinstance(document, dict)
        return document

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
