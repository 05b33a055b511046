"""bench/cli_startup.py still runs: one counted run of each command (no timing asserted)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_startup_bench_runs_each_command() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "cli_startup.py"), "-n", "1", "--label", "smoke"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for command in ("podium --help", "podium flow validate flows/hello_world.yaml", "podium execution list",
                    "podium execution show ID", "podium triggers list", "podium kv list dev"):
        assert command in result.stdout
    assert result.stdout.count("wall median") == 6
