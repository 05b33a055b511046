"""bench/run.py still runs: W1 with tiny sizes on the embedded runtime (no timing asserted)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_run_quick_w1_embedded() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "W1", "--modes", "embedded",
         "--size", "W1=2,3", "--no-reference", "--no-write"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if " W1 " in line]
    assert any("chain of 2" in row for row in rows), result.stdout
    assert any("chain of 3" in row for row in rows), result.stdout
    assert "Podium benchmarks" in result.stdout
