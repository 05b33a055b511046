"""The CLI starts quickly: the command modules import only click and what ``--help`` needs; Celery,
the database layer, the services, the templating, the plugins and rich load inside the commands that
use them, and each command loads only what it uses (bench/cli_startup.py measures the times).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.flow_commands import _settings
from cli.reads import Place, instance_place
from engine.settings import Settings
from tests.cli.conftest import ROOT, Podium

HEAVY = ("celery", "kombu", "sqlalchemy", "rich", "httpx", "engine.services", "engine.persistence",
         "pydantic", "pydantic_settings")
# What no read of the database needs: the broker, the expression engine, the plugins, the migrations.
NOT_FOR_READS = ("celery", "kombu", "jinja2", "alembic", "engine.services", "engine.templating.renderer",
                 "engine.plugins.base", "engine.plugins.registry", "messaging", "sqlalchemy", "pydantic_settings")
# What `triggers list` needs besides: the plugins, to parse the flows whose triggers it lists.
NOT_FOR_TRIGGERS = ("celery", "kombu", "alembic", "engine.services", "engine.templating.renderer", "messaging",
                    "sqlalchemy", "pydantic_settings")

# Imports the CLI, runs the command line given (if any) and prints which heavy modules it loaded.
PROBE = """
import contextlib, json, sys
import cli
if sys.argv[2:]:
    with contextlib.suppress(SystemExit):
        cli.main(sys.argv[2:])
print(json.dumps(sorted(name for name in sys.argv[1].split(",") if name in sys.modules)))
"""


def _heavy_modules_after(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """A fresh interpreter: ``import cli``, then ``podium ARGS``; which of ``heavy`` it loaded."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PODIUM_")}
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(heavy), *args],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_framework() -> None:
    assert _heavy_modules_after() == []


def test_help_loads_no_framework() -> None:
    assert _heavy_modules_after("--help") == []
    assert _heavy_modules_after("execution", "--help") == []
    assert _heavy_modules_after("backfill", "start", "--help") == []


def test_validate_loads_no_broker_database_or_expression_engine() -> None:
    heavy = ("celery", "kombu", "sqlalchemy", "alembic", "jinja2", "rich", "pydantic_settings",
             "engine.services", "engine.persistence", "engine.templating.renderer", "engine.plugins.core.triggers",
             "engine.plugins.ext.jdbc")
    assert _heavy_modules_after("flow", "validate", "flows/hello_world.yaml", heavy=heavy) == []


def test_execution_list_reads_the_database_alone(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    # A new instance: the repositories create the schema (SQLAlchemy and Alembic)...
    assert _heavy_modules_after("execution", "list", "--data-dir", data, heavy=NOT_FOR_READS) == [
        "alembic", "sqlalchemy"]
    # ... and once it is at head, the stdlib sqlite3 reads it: nothing but the table read is left.
    assert _heavy_modules_after("execution", "list", "--data-dir", data, heavy=NOT_FOR_READS) == []


def test_read_only_commands_open_no_services_broker_or_sqlalchemy(podium: Podium) -> None:
    flow = ROOT / "flows" / "hello_world.yaml"
    execution_id = podium.run_json(flow)["id"]
    data = str(podium.data_dir)
    assert podium.process("kv", "set", "dev", "k", "1", "--data-dir", data).returncode == 0
    for command in (["execution", "show", execution_id], ["execution", "show", execution_id, "--json"],
                    ["execution", "logs", execution_id], ["kv", "list", "dev"], ["kv", "get", "dev", "k"],
                    ["namespace-files", "list", "dev"], ["triggers", "logs", "company.team", "hello_world"]):
        assert _heavy_modules_after(*command, "--data-dir", data, heavy=NOT_FOR_READS) == [], command
    assert _heavy_modules_after("triggers", "list", "--data-dir", data, heavy=NOT_FOR_TRIGGERS) == []


def test_kv_writes_and_file_uploads_build_no_services_or_broker(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    no_services = ("celery", "kombu", "engine.services", "messaging", "engine.plugins.registry", "jinja2")
    assert _heavy_modules_after("kv", "set", "dev", "k", "1", "--data-dir", data, heavy=no_services) == []
    assert _heavy_modules_after("kv", "delete", "dev", "k", "--data-dir", data, heavy=no_services) == []
    flow = str(ROOT / "flows" / "hello_world.yaml")
    assert _heavy_modules_after("namespace-files", "upload", "dev", flow, "--data-dir", data,
                                heavy=(*no_services, "sqlalchemy")) == []


def test_the_instance_without_configuration_is_where_the_settings_defaults_put_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.upper().startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    for data_dir in (None, tmp_path / "data"):
        settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
        assert instance_place(None, data_dir) == Place(
            settings.data_dir, settings.resolved_database_url, settings.resolved_storage_dir, settings.timezone,
            tuple(settings.plugin_defaults))


def test_validate_without_configuration_uses_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    defaults = Settings()
    assert _settings() == (list(defaults.plugin_defaults), list(defaults.worker.queues))
