"""A kill reaches the attempt a prefork worker child runs at once (messaging/kill_relay.py), not when
its lease lapses: real ``podium executor``, ``podium worker`` (prefork, its default pool) and
``podium beat`` processes, on Redis + PostgreSQL and on the embedded ``podium-fs://`` + SQLite, and
the kill sent by ``podium execution kill`` as a user would.

The lease is a minute here, so an attempt that only its lease's lapse ended would take over a
minute; the bound of 20 s is a deadline against a hang, not a timing (docs/reliability.md gives the
measured figure)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.model.execution import TaskRun
from engine.state import State
from tests.reliability.conftest import PODIUM, ROOT, Cluster, wait_until
from tests.reliability.test_no_lost_work import NS, _deploy, _start

pytestmark = [pytest.mark.slow]

LONG_LEASE = {"PODIUM_WORKER__LEASE_SECONDS": "60"}
KILLED_WITHIN = 20.0  # far under the lease: only a kill that reached the attempt ends it by then
LONG_SLEEP = f"""
id: long_sleep
namespace: {NS}
tasks:
  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT10M}}
  - {{id: after, type: io.kestra.plugin.core.debug.Return, format: never}}
"""


@pytest.mark.postgres
def test_a_kill_stops_a_prefork_attempt_on_redis_and_postgres(cluster: Cluster) -> None:
    _kill_a_long_sleep(cluster)


def test_a_kill_stops_a_prefork_attempt_on_the_embedded_broker_and_sqlite(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, f"sqlite:///{tmp_path / 'podium.db'}", "podium-fs://")
    try:
        _kill_a_long_sleep(cluster)
    finally:
        cluster.stop_all()


def _kill_a_long_sleep(cluster: Cluster) -> None:
    _deploy(cluster, LONG_SLEEP)
    cluster.start("executor", "executor", env=LONG_LEASE)
    cluster.start("beat", "beat", "--interval", "0.2", env=LONG_LEASE)
    cluster.start("worker", "worker", "-c", "2", env=LONG_LEASE)  # prefork: the default pool
    (execution_id,) = _start(cluster, "long_sleep", 1)

    def nap() -> TaskRun | None:
        runs = cluster.services.get_execution(execution_id).task_run_list
        return next((run for run in runs if run.task_id == "nap"), None)

    try:
        wait_until(lambda: (run := nap()) is not None and run.state.current == State.RUNNING, 90,
                   what="the sleep to run")
        killed = subprocess.run([PODIUM, "execution", "kill", execution_id], cwd=ROOT, env=cluster.env,
                                capture_output=True, text=True, timeout=60)
        assert killed.returncode == 0, killed.stderr
        wait_until(lambda: cluster.services.get_execution(execution_id).state.current == State.KILLED,
                   KILLED_WITHIN, what="the execution to end KILLED")
    except BaseException:
        print(cluster.logs_tail())
        raise
    runs = cluster.services.get_execution(execution_id).task_run_list
    assert [(run.task_id, [attempt.state.current for attempt in run.attempts]) for run in runs] == [
        ("nap", [State.KILLED])]
    worker_log = (cluster.root / "worker.log").read_text(errors="replace")
    # Stopped by its cancel event in its own process, which reported it: not terminated.
    assert "state=KILLED" in worker_log and "terminating its process" not in worker_log, worker_log[-3000:]
