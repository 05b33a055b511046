"""docker-compose.yml and the Dockerfile, checked statically (no image can be built here).

``docker-compose config`` (v1, from scripts/install-services.sh) parses and validates the file
offline; without the binary the test is skipped locally and fails under PODIUM_REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.settings import Settings
from tests.servers import require_service

ROOT = Path(__file__).resolve().parents[2]
PODIUM_SERVICES = {"web", "executor", "worker", "beat", "flower"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    if binary is None:
        require_service("docker-compose is not installed (scripts/install-services.sh installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "POSTGRES_", "FLOWER_"))}
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return dict(yaml.safe_load(result.stdout))


def test_every_process_is_a_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "postgres"} | PODIUM_SERVICES
    commands = {name: " ".join(services[name]["command"]) for name in PODIUM_SERVICES}
    assert commands["web"].startswith("gunicorn ") and commands["web"].endswith("app:create_app()")
    assert commands["executor"] == "podium executor"
    assert commands["worker"] == "podium worker"
    assert commands["beat"] == "podium beat"
    assert commands["flower"].startswith("celery -A worker.celery_app flower --port=5555 --basic-auth=")
    assert services["worker"]["deploy"]["replicas"] >= 1


def test_health_checks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in {"redis", "postgres", "web", "executor", "worker", "flower"}:
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    assert "/health" in " ".join(services["web"]["healthcheck"]["test"])
    for name in PODIUM_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"


def test_environment_names_real_settings(compose: dict[str, Any]) -> None:
    for name in PODIUM_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["PODIUM_BROKER_URL"] == "redis://redis:6379/0"
        assert env["PODIUM_DATABASE_URL"].startswith("postgresql+psycopg://podium:")
        podium = {k: v for k, v in env.items() if k.startswith("PODIUM_") and v not in (None, "")}
        # Settings must accept every variable as given (names and types), as a process would at start.
        settings = _settings_from(podium)
        assert settings.log_format == "json"
        assert str(settings.data_dir) == "/data"


def _settings_from(env: dict[str, str]) -> Settings:
    saved = {k: v for k, v in os.environ.items() if k.startswith("PODIUM_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update(env)
        return Settings()
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.update(saved)


def test_dockerfile_installs_podium_with_its_production_extras() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert 'pip install ".[ops,postgres]"' in text
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert re.search(r"^USER podium$", text, re.M)
    assert 'CMD ["gunicorn", "--bind", "0.0.0.0:8080", "app:create_app()"]' in text
    for package in ("engine", "app", "worker", "executor", "beat", "messaging", "cli"):
        assert f"COPY {package} ./{package}" in text


def test_the_flows_folder_is_mounted_in_every_podium_service(compose: dict[str, Any]) -> None:
    for name in PODIUM_SERVICES:
        # docker-compose v1 prints the short form: SOURCE:TARGET:MODE, the source made absolute.
        assert f"{ROOT / 'flows'}:/flows:ro" in compose["services"][name]["volumes"], name


@pytest.mark.postgres
def test_the_documented_flow_deploy_works_against_the_stacks_database(postgres_database_url: str, redis_url: str,
                                                                      tmp_path: Path) -> None:
    # What `docker compose exec executor podium flow deploy /flows` runs: the CLI with the
    # services' PODIUM_* variables, on the checkout's flows folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_DATABASE_URL=postgres_database_url, PODIUM_BROKER_URL=redis_url,
               PODIUM_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    podium = [sys.executable, "-m", "cli"]
    first = subprocess.run([*podium, "flow", "deploy", str(ROOT / "flows")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    flow_files = sorted((ROOT / "flows").glob("*.yaml"))
    assert len(first.stdout.splitlines()) == len(flow_files) and "revision 1" in first.stdout
    again = subprocess.run([*podium, "flow", "deploy", str(ROOT / "flows")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.count("unchanged (revision 1)") == len(flow_files), again.stderr
