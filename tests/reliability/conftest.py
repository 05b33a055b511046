"""Real processes on real Redis and PostgreSQL: ``podium executor``, ``podium worker`` and
``podium beat`` as subprocesses, killed with SIGKILL, restarted; Redis restarted without
persistence. docs/reliability.md says what each test proves.

Waits are deadlines (a slow machine waits longer, a fast one does not wait), never timed
assertions. The lease is 3 s here (heartbeat every second, an unclaimed dispatch is sent again
after 6 s, an unapplied result after 3 s), so recovery takes seconds, not minutes.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.model.execution import Execution
from engine.services import Services, build_services
from engine.settings import Settings
from tests.servers import RedisServer, start_redis

ROOT = Path(__file__).resolve().parents[2]
PODIUM = str(Path(sys.executable).with_name("podium"))
LEASE_SECONDS = 3.0


def wait_until(condition: Callable[[], Any], timeout: float, step: float = 0.1, what: str = "") -> Any:
    """Polls until ``condition()`` is truthy; fails the test with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(step)


@dataclass
class Cluster:
    """The processes of one Podium installation, sharing a PostgreSQL database and a Redis."""

    root: Path
    database_url: str
    broker_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _services: Services | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PODIUM_DATABASE_URL": self.database_url, "PODIUM_BROKER_URL": self.broker_url,
                "PODIUM_DATA_DIR": str(self.root / "data"), "PODIUM_WORKER__LEASE_SECONDS": str(LEASE_SECONDS),
                "PYTHONPATH": str(ROOT)}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the process writes it until it stops
        log.write(f"\n---- start {' '.join(args)}\n".encode())
        # A session of its own: a SIGKILL of the group takes every thread and child with it.
        process = subprocess.Popen([PODIUM, *args], cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def executor(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        return self.start("executor", "executor", env={"PODIUM_EXECUTOR__CONCURRENCY": str(concurrency)})

    def worker(self, concurrency: int = 4, pool: str = "threads",
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.start("worker", "worker", "-P", pool, "-c", str(concurrency), env=env)

    def beat(self) -> subprocess.Popen[bytes]:
        return self.start("beat", "beat", "--interval", "0.2")

    @staticmethod
    def worker_id(process: subprocess.Popen[bytes]) -> str:
        """The id a worker process writes on the attempts it claims (worker/task_runs.py)."""
        return f"{socket.gethostname()}:{process.pid}"

    @staticmethod
    def kill9(process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._services is not None:
            self._services.env.db.dispose()

    @property
    def services(self) -> Services:
        """Services for the test itself (deploy, start executions, read the database)."""
        if self._services is None:
            from messaging.celery_app import make_celery
            from messaging.dispatch import CeleryDispatcher

            settings = Settings(data_dir=self.root / "data", database_url=self.database_url,
                                broker_url=self.broker_url, worker={"lease_seconds": LEASE_SECONDS})
            self._services = build_services(settings, CeleryDispatcher(make_celery(settings)))
        return self._services

    def executions(self, ids: list[str]) -> list[Execution]:
        repository = self.services.env.executions
        return [execution for execution in (repository.get(i) for i in ids) if execution is not None]

    def ended(self, ids: list[str]) -> int:
        return sum(1 for execution in self.executions(ids) if execution.state.current.is_terminated)

    def logs_tail(self) -> str:
        text = []
        for log in sorted(self.root.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-25:]
            text.append(f"== {log.name}\n" + "\n".join(lines))
        return "\n".join(text)


@pytest.fixture
def cluster(tmp_path: Path, postgres_database_url: str, redis_url: str) -> Iterator[Cluster]:
    built = Cluster(tmp_path, postgres_database_url, redis_url)
    yield built
    built.stop_all()


@dataclass
class RestartableRedis:
    """A redis-server of this test only, which can be killed and started again on its port."""

    server: RedisServer

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self, down_seconds: float = 1.0) -> None:
        """SIGKILL (no persistence: every queued message is gone), then a fresh server on the port."""
        self.server.process.kill()
        self.server.process.wait()
        time.sleep(down_seconds)
        binary = shutil.which("redis-server")
        assert binary is not None
        deadline = time.monotonic() + 30
        while True:
            with open(self.server.root / "redis.log", "ab") as log:
                process = subprocess.Popen(
                    [binary, "--port", str(self.server.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.server.root)], stdout=log, stderr=subprocess.STDOUT)
            self.server.process = process
            if _wait_for_ping(self.server, 5):
                return
            process.kill()
            process.wait()
            if time.monotonic() > deadline:
                pytest.fail("could not restart redis-server on its port")


def _wait_for_ping(server: RedisServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.is_ours():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def own_redis() -> Iterator[RestartableRedis]:
    server = start_redis()
    yield RestartableRedis(server)
    server.stop()
