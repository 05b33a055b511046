"""A driver an extra brings (psycopg for PostgreSQL) that is not installed, or cannot load, ends every
command and process on that database with one line that says how to install it: exit code 2, no
traceback (engine/drivers.py). The real ``podium`` in a subprocess, its driver hidden from it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import PODIUM, ROOT

POSTGRES_URL = "postgresql://podium:s3cret@127.0.0.1:1/podium"
MISSING = "Error: PostgreSQL needs the postgres extra: pip install -e '.[postgres]'"
COMMANDS = [["execution", "list"], ["run", "flows/hello_world.yaml"], ["flow", "deploy", "flows/hello_world.yaml"],
            ["server", "local", "--port", "0"], ["executor"], ["worker"], ["beat"], ["server", "web"]]


def _podium(args: list[str], tmp_path: Path, hide: str, broker_url: str = "",
            module: str = "psycopg") -> subprocess.CompletedProcess[str]:
    """``podium ARGS`` on PostgreSQL, ``sitecustomize`` hiding ``module`` (``none``: as if not
    installed; ``broken``: installed but failing to import, as psycopg without its C library)."""
    site = tmp_path / "site"
    (site / "psycopg").mkdir(parents=True, exist_ok=True)
    if hide == "none":
        (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    else:
        (site / "psycopg" / "__init__.py").write_text("raise ImportError('no pq wrapper available')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PYTHONPATH=f"{site}{os.pathsep}{ROOT}", PODIUM_DATABASE_URL=POSTGRES_URL,
               PODIUM_DATA_DIR=str(tmp_path / "data"))
    if broker_url:
        env["PODIUM_BROKER_URL"] = broker_url
    return subprocess.run([*PODIUM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_missing_postgres_driver_is_one_line(args: list[str], tmp_path: Path) -> None:
    result = _podium(args, tmp_path, "none")
    assert (result.returncode, result.stderr.strip()) == (2, MISSING), result.stderr
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.parametrize("args", [["execution", "list"], ["run", "flows/hello_world.yaml"], ["worker"]], ids=" ".join)
def test_a_postgres_driver_that_cannot_load_says_why(args: list[str], tmp_path: Path) -> None:
    result = _podium(args, tmp_path, "broken")
    assert (result.returncode, result.stderr.strip()) == (2, f"{MISSING} (no pq wrapper available)"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_flow_file_validates_without_the_driver(tmp_path: Path) -> None:
    result = _podium(["flow", "validate", "flows/hello_world.yaml"], tmp_path, "none")
    assert result.returncode == 0, result.stderr


def test_a_missing_redis_client_is_one_line(tmp_path: Path) -> None:
    result = _podium(["execution", "list"], tmp_path, "none", broker_url="redis://127.0.0.1:1/0", module="redis")
    assert (result.returncode, result.stderr.strip()) == (
        2, "Error: Redis needs the redis package, a dependency of Podium: pip install -e ."), result.stderr
