"""``podium --help`` stays quick: the command modules import only click, the settings and what the
help needs; Celery, the database layer, the services and rich load inside the commands that use them.
"""
from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.conftest import ROOT

HEAVY = ("celery", "kombu", "sqlalchemy", "rich", "httpx", "engine.services", "engine.persistence")

# Imports the CLI, runs the command line given (if any) and prints which heavy modules it loaded.
PROBE = """
import contextlib, json, sys
import cli
if sys.argv[2:]:
    with contextlib.suppress(SystemExit):
        cli.main(sys.argv[2:])
print(json.dumps(sorted(name for name in sys.argv[1].split(",") if name in sys.modules)))
"""


def _heavy_modules_after(*args: str) -> list[str]:
    """A fresh interpreter: ``import cli``, then ``podium ARGS``."""
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_framework() -> None:
    assert _heavy_modules_after() == []


def test_help_loads_no_framework() -> None:
    assert _heavy_modules_after("--help") == []
    assert _heavy_modules_after("execution", "--help") == []
    assert _heavy_modules_after("backfill", "start", "--help") == []
