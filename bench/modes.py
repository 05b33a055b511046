"""The Podium modes bench/run.py measures, and the processes they run on.

A mode deploys flows, starts executions (as the web would) and reads from the database when they
ended: ``embedded`` runs the in-process runtime of ``podium run``; ``redis-pg`` starts the
``podium executor``, ``worker`` and ``beat`` processes on a throwaway Redis and PostgreSQL.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.flows import ONE_TASK
from engine.persistence.tables import executions
from engine.services import Services, build_services
from engine.settings import Settings
from engine.state import State

ROOT = Path(__file__).resolve().parents[1]
PODIUM = str(Path(sys.executable).with_name("podium"))
TERMINATED = sorted(state.value for state in State if state.is_terminated)


class BenchError(RuntimeError):
    pass


class PodiumMode:
    """What the workloads need from a running Podium: services to deploy and start executions,
    and the database to read when they ended."""

    name = ""
    services: Services

    extra_cpu: dict[str, list[int]] = {}

    def roles(self) -> dict[str, list[int]]:
        raise NotImplementedError

    def cpu_roles(self) -> dict[str, list[int]]:
        roles = dict(self.roles())
        if "embedded" not in roles:
            roles["this driver"] = [os.getpid()]
        return {**roles, **self.extra_cpu}

    def progress(self, execution_id: str) -> str:
        from sqlalchemy import func

        from engine.persistence.tables import task_runs
        query = (select(task_runs.c.state, func.count()).where(task_runs.c.execution_id == execution_id)
                 .group_by(task_runs.c.state))
        with self.services.env.db.engine.connect() as connection:
            counts = {str(getattr(state, "value", state)): n for state, n in connection.execute(query)}
        return ", ".join(f"{n:,} {state}" for state, n in sorted(counts.items())) or "no task runs"

    def recover(self, execution_id: str) -> None:
        """After a timeout: stop the execution so that it does not disturb what follows."""
        try:
            self.services.kill(execution_id)
        except Exception as err:  # noqa: BLE001 - a failed kill must not stop the run
            print(f"  {self.name}: could not kill {execution_id}: {err}", flush=True)

    def replays(self) -> int:
        """Results the reaper had to send again, leases it reported expired (executor lag)."""
        return 0

    def close(self) -> None:
        raise NotImplementedError

    def deploy(self, source: str) -> None:
        self.services.deploy_source(source)

    def submit(self, namespace: str, flow_id: str) -> tuple[str, float]:
        at = time.time()
        return self.services.start_execution(namespace, flow_id).id, at

    def ended(self, ids: Iterable[str]) -> dict[str, tuple[str, float]]:
        """{id: (state, end timestamp)} of those of ``ids`` that ended."""
        ids = list(ids)
        found: dict[str, tuple[str, float]] = {}
        db = self.services.env.db
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            query = (select(executions.c.id, executions.c.state, executions.c.end_date)
                     .where(executions.c.id.in_(chunk)).where(executions.c.state.in_(TERMINATED)))
            with db.engine.connect() as connection:
                for row in connection.execute(query):
                    found[row.id] = (str(getattr(row.state, "value", row.state)), row.end_date.timestamp())
        return found

    def wait(self, ids: list[str], timeout: float, interval: float = 0.02) -> dict[str, tuple[str, float]]:
        deadline = time.monotonic() + timeout
        pending, done = set(ids), {}
        while pending:
            done.update(self.ended(pending))
            pending -= done.keys()
            if not pending:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"timeout: {len(pending)} of {len(ids)} execution(s) not ended after {timeout:.0f} s")
            # End times come from the rows, not from this poll: polling 1000 executions often
            # would only take CPU from the processes measured.
            time.sleep(interval if len(ids) < 50 else max(interval, 0.5))
        failed = Counter(state for state, _ in done.values() if state != "SUCCESS")
        if failed:
            raise BenchError(f"executions did not succeed: {dict(failed)}")
        return done

    def run_once(self, namespace: str, flow_id: str, timeout: float) -> float:
        execution_id, at = self.submit(namespace, flow_id)
        (_, end), = self.wait([execution_id], timeout).values()
        return end - at


class EmbeddedMode(PodiumMode):
    name = "embedded"

    def __init__(self, root: Path) -> None:
        import logging

        from cli.embedded import EmbeddedRuntime

        self._counter = _CountingHandler()
        reaper = logging.getLogger("podium.reaper")
        reaper.addHandler(self._counter)
        reaper.propagate = False
        settings = Settings(data_dir=root / "embedded", broker_url="memory://")
        self.runtime = EmbeddedRuntime(settings, lambda dispatcher: build_services(settings, dispatcher))
        self.runtime.start()
        self.services = self.runtime.services

    def roles(self) -> dict[str, list[int]]:
        return {"embedded": [os.getpid()]}

    def replays(self) -> int:
        return self._counter.count

    def close(self) -> None:
        try:
            self.runtime.stop()
        except RuntimeError as err:  # an executor event still running (the ForEach): reported, not fatal
            print(f"  embedded: {err}", flush=True)
        self.services.env.db.engine.dispose()


class _CountingHandler:
    """A logging handler that counts the reaper's warnings (printing them would flood the output)."""

    level = 0

    def __init__(self) -> None:
        self.count = 0

    def handle(self, record: Any) -> bool:
        self.count += 1
        return True


class RedisPgMode(PodiumMode):
    name = "redis-pg"

    def __init__(self, root: Path, redis_url: str, database: Callable[[], str]) -> None:
        self._start(root, redis_url, database)
        self.restarts = 0

    def recover(self, execution_id: str) -> None:
        """A fresh stack (processes, database, Redis queues): the executor may be busy for minutes."""
        import redis

        print("  redis-pg: restarting executor, worker and beat on a fresh database and Redis", flush=True)
        self.close()
        redis.Redis.from_url(self.redis_url).flushdb()
        self.restarts += 1
        self._start(self.base / f"restart{self.restarts}", self.redis_url, self.database)

    def _start(self, root: Path, redis_url: str, database: Callable[[], str]) -> None:
        self.base, self.redis_url, self.database = root, redis_url, database
        database_url = database()
        from messaging.celery_app import make_celery
        from messaging.dispatch import CeleryDispatcher

        self.root = root / "redis-pg"
        self.root.mkdir(parents=True)
        self.env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_BROKER_URL": redis_url,
                    "PODIUM_DATA_DIR": str(self.root), "PODIUM_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(ROOT)}
        settings = Settings(data_dir=self.root, database_url=database_url, broker_url=redis_url)
        self.services = build_services(settings, CeleryDispatcher(make_celery(settings)))  # migrates
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for role in ("executor", "worker", "beat"):
                log = open(self.root / f"{role}.log", "wb")  # noqa: SIM115 - closed with the process
                self.processes[role] = subprocess.Popen([PODIUM, role], cwd=ROOT, env=self.env, stdout=log,
                                                        stderr=subprocess.STDOUT)
            self.deploy(ONE_TASK.format(flow_id="warmup", namespace="bench.warmup"))
            began = time.monotonic()
            self.run_once("bench.warmup", "warmup", 120)
            print(f"  redis-pg: executor, worker, beat ready in {time.monotonic() - began:.1f} s", flush=True)
        except BaseException:
            self.close()
            raise

    def roles(self) -> dict[str, list[int]]:
        return {role: [process.pid] for role, process in self.processes.items() if process.poll() is None}

    def replays(self) -> int:
        text = (self.root / "beat.log").read_text(errors="replace") if (self.root / "beat.log").exists() else ""
        return text.count("not applied yet") + text.count("expired at")

    def check_alive(self) -> None:
        for role, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(f"podium {role} exited with {process.returncode}: "
                                 + tail(self.root / f"{role}.log"))

    def wait(self, ids: list[str], timeout: float, interval: float = 0.02) -> dict[str, tuple[str, float]]:
        self.check_alive()
        return super().wait(ids, timeout, interval)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.services.env.db.engine.dispose()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def postmaster_pid(cluster: Any) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


def create_database(cluster: Any) -> str:
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)
