"""No process prints the password of its database or broker URL, in any line it writes.

``podium executor``, ``worker``, ``beat``, ``server web`` and ``server local`` run as real processes
on a PostgreSQL and a Redis that ask for a password, with the password in the URLs both ways
(``user:password@`` and ``?password=``), at DEBUG, through a whole execution and ``/health``; then
with wrong passwords, so that the connection errors and their tracebacks are printed too. Every
line of every process, and every ``/health`` body, is searched for the passwords.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import PostgresCluster, RedisServer, free_port, start_postgres, start_redis

ROOT = Path(__file__).resolve().parents[2]
PG_PASSWORD = f"pg-{uuid.uuid4().hex[:12]}"
REDIS_PASSWORD = f"rd-{uuid.uuid4().hex[:12]}"
WRONG_PG, WRONG_REDIS = f"wrongpg-{uuid.uuid4().hex[:8]}", f"wrongrd-{uuid.uuid4().hex[:8]}"
PASSWORDS = (PG_PASSWORD, REDIS_PASSWORD, WRONG_PG, WRONG_REDIS)
DEADLINE = 180.0  # seconds: a bound for a loaded machine, never a speed check

FLOW = """\
id: hello
namespace: tests.credentials
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello
"""


@dataclass
class Servers:
    postgres: PostgresCluster
    redis: RedisServer

    def database_url(self, password: str = PG_PASSWORD, *, in_query: bool = False) -> str:
        where = f"127.0.0.1:{self.postgres.port}/podium"
        if in_query:
            return f"postgresql+psycopg://postgres@{where}?sslmode=disable&password={password}"
        return f"postgresql+psycopg://postgres:{password}@{where}"

    def broker_url(self, password: str = REDIS_PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.redis.port}/0"


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    postgres = start_postgres(password=PG_PASSWORD)
    redis = start_redis(password=REDIS_PASSWORD)
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=postgres password={PG_PASSWORD} "
                             "dbname=postgres", autocommit=True) as connection:
            connection.execute("CREATE DATABASE podium")
        yield Servers(postgres, redis)
    finally:
        redis.stop()
        postgres.stop()


class Process:
    """A ``podium`` command running in the background, its stdout and stderr in one file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=folder, env=env,
                                          stdout=out, stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, *marks: str) -> None:
        """Until the output holds one of ``marks``; fails with the output if the process ends first."""
        deadline = time.monotonic() + DEADLINE
        while not any(mark in self.output for mark in marks):
            assert self.popen.poll() is None, f"{self.name} ended:\n{self.output}"
            assert time.monotonic() < deadline, f"{self.name} never printed {marks}:\n{self.output}"
            time.sleep(0.2)

    def stop(self) -> str:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.output


def _env(folder: Path, database_url: str, broker_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PODIUM_DATA_DIR=str(folder / "data"),
               PODIUM_DATABASE_URL=database_url, PODIUM_LOG_LEVEL="DEBUG")
    if broker_url is not None:
        env["PODIUM_BROKER_URL"] = broker_url
    return env


def _podium(env: dict[str, str], folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=DEADLINE)


def _health(port: int, until: Callable[[dict[str, object]], bool] = lambda body: True) -> str:
    """The text of ``GET /health`` once it answers and ``until(body)`` holds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:  # 503: a part is down, still the JSON body
            text = err.read().decode()
        except OSError:
            text = ""
        if text and until(json.loads(text)):
            return text
        assert time.monotonic() < deadline, f"/health on port {port} never answered as expected: {text}"
        time.sleep(0.5)


def _assert_no_password(outputs: dict[str, str]) -> None:
    for name, text in outputs.items():
        for password in PASSWORDS:
            assert password not in text, f"{name} printed a password:\n{text}"


def test_running_processes_never_print_their_passwords(servers: Servers, tmp_path: Path) -> None:
    in_info = _env(tmp_path, servers.database_url(), servers.broker_url())
    in_query = _env(tmp_path, servers.database_url(in_query=True), servers.broker_url())
    processes = [Process("beat", ["beat"], in_query, tmp_path),
                 Process("executor", ["executor"], in_info, tmp_path),
                 Process("worker", ["worker"], in_query, tmp_path)]
    outputs: dict[str, str] = {}
    try:
        processes[0].wait_for("leader")
        for process in processes[1:]:
            process.wait_for(" ready")
        flow = tmp_path / "hello.yaml"
        flow.write_text(FLOW)
        for args in (["flow", "deploy", str(flow)],
                     ["execution", "start", "tests.credentials", "hello", "--wait", "--timeout", str(DEADLINE)]):
            result = _podium(in_info, tmp_path, *args)
            outputs[" ".join(args[:2])] = result.stdout + result.stderr
            assert result.returncode == 0, result.stdout + result.stderr
        port = free_port()
        web = Process("web", ["server", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], in_info, tmp_path)
        processes.append(web)
        outputs["/health"] = _health(port, lambda body: body.get("status") == "UP")
    finally:
        outputs.update({process.name: process.stop() for process in processes})
    _assert_no_password(outputs)
    assert "password=***" in outputs["beat"] and "redis://***@" in outputs["executor"], outputs
    assert json.loads(outputs["/health"])["broker_url"] == f"redis://***@127.0.0.1:{servers.redis.port}/0"


def test_wrong_passwords_fail_without_printing_them(servers: Servers, tmp_path: Path) -> None:
    wrong = _env(tmp_path, servers.database_url(WRONG_PG), servers.broker_url(WRONG_REDIS))
    wrong_in_query = _env(tmp_path, servers.database_url(WRONG_PG, in_query=True), servers.broker_url(WRONG_REDIS))
    port = free_port()
    processes = [Process("executor", ["executor"], wrong, tmp_path),
                 Process("worker", ["worker"], wrong_in_query, tmp_path),
                 Process("web", ["server", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], wrong, tmp_path)]
    outputs: dict[str, str] = {}
    try:
        beat = _podium(wrong_in_query, tmp_path, "beat")  # migrates first: the database refuses it
        outputs["beat"] = beat.stdout + beat.stderr
        assert beat.returncode != 0 and "password authentication failed" in outputs["beat"], outputs["beat"]
        for process in processes[:2]:
            process.wait_for("Cannot connect")
        outputs["/health"] = _health(port)
        assert json.loads(outputs["/health"])["status"] == "DOWN"
    finally:
        outputs.update({process.name: process.stop() for process in processes})
    _assert_no_password(outputs)


def test_server_local_and_refused_settings_never_print_the_passwords(servers: Servers, tmp_path: Path) -> None:
    local = Process("server local", ["server", "local", "--port", "0"],
                    _env(tmp_path, servers.database_url(in_query=True), None), tmp_path)
    outputs: dict[str, str] = {}
    try:
        local.wait_for("/health")
        port = int(local.output.split("http://127.0.0.1:")[1].split("/")[0])
        outputs["server local /health"] = _health(port, lambda body: body.get("status") == "UP")
    finally:
        outputs["server local"] = local.stop()
    refused = _podium(_env(tmp_path, servers.database_url(), servers.broker_url()), tmp_path, "server", "local")
    outputs["server local on redis"] = refused.stdout + refused.stderr
    assert refused.returncode == 2 and "redis://***@" in refused.stderr, refused.stderr
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"databse_url: {servers.database_url()}\n")  # a misspelt key: pydantic quotes the value
    invalid = _podium(_env(tmp_path, servers.database_url(), None), tmp_path, "beat", "--config", str(settings))
    outputs["invalid settings"] = invalid.stdout + invalid.stderr
    assert invalid.returncode == 2 and "databse_url" in invalid.stderr, invalid.stderr
    _assert_no_password(outputs)
