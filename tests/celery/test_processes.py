"""Process entry points: beat loop, health endpoint, and refusing memory:// for separate processes."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from beat.loop import Beat
from cli.embedded import EmbeddedRuntime
from cli.health_server import HealthServer, health_check
from engine.credentials import without_password
from engine.settings import Settings
from messaging.processes import EmbeddedBrokerError, _WorkerLife, require_shared_broker, worker_argv
from tests.celery.fakes import FakeServices
from tests.celery.procs import ROOT, env_for, stop

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

MEMORY = Settings(broker_url="memory://")  # the in-process broker; the default is podium-fs://


def test_beat_tick_calls_both_with_the_given_time() -> None:
    services = FakeServices()
    assert Beat(services, interval=0.3).tick(NOW) == 0.3
    assert services.of_kind("timers") == [NOW] and services.of_kind("reap") == [NOW]


def test_beat_tick_survives_a_failure_and_backs_off() -> None:
    class Broken(FakeServices):
        def fire_due_timers(self, now: datetime) -> int:
            raise RuntimeError("database away")

    assert Beat(Broken(), interval=0.1).tick(NOW) >= 1.0


def test_separate_processes_refuse_the_memory_broker() -> None:
    with pytest.raises(EmbeddedBrokerError, match="podium-fs://"):
        require_shared_broker(MEMORY)
    require_shared_broker(Settings(broker_url="redis://127.0.0.1:1/0"))
    require_shared_broker(Settings())  # the default, podium-fs://, reaches other processes
    for module in ("executor", "beat"):
        result = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "PODIUM_BROKER_URL": "memory://"})
        assert result.returncode == 2 and "memory://" in result.stderr, result.stderr


def test_worker_argv_and_password_free_url() -> None:
    argv = worker_argv(["default", "gpu"], 3, pool="prefork", name="worker")
    assert argv[:5] == ["worker", "-Q", "default,gpu", "-c", "3"] and "prefork" in argv
    assert without_password("redis://:s3cret@host:6379/0") == "redis://***@host:6379/0"
    assert without_password("redis://user:s3cret@host:6379/0") == "redis://user:***@host:6379/0"


def test_the_worker_runs_at_the_configured_log_level() -> None:
    # PODIUM_LOG_LEVEL=WARNING used to be overridden by a fixed `-l INFO` for every worker.
    import messaging.processes as processes

    started: list[list[str]] = []
    app = SimpleNamespace(conf=SimpleNamespace(), worker_main=started.append)
    with pytest.raises(SystemExit):
        processes.run_celery_worker(Settings(broker_url="redis://127.0.0.1:1/0", log_level="WARNING"), app,
                                    ["default"], 2, pool="prefork", name="worker")
    assert started[0][-2:] == ["-l", "WARNING"]


def test_health_endpoint_reports_parts(tmp_path: object) -> None:
    def broken() -> None:
        raise ConnectionError("refused")

    with EmbeddedRuntime(MEMORY, FakeServices, beat=False) as runtime:
        def broker() -> None:
            with runtime.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)

        with HealthServer(health_check(lambda: None, broker, "memory://"), 0) as up:
            body = json.load(urllib.request.urlopen(f"http://127.0.0.1:{up.port}/health"))
            assert body == {"status": "UP", "database": "UP", "broker": "UP", "broker_url": "memory://"}
        with HealthServer(health_check(broken, broker, "memory://"), 0) as down:
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"http://127.0.0.1:{down.port}/health")
            assert err.value.code == 503
            assert json.load(err.value)["database"] == "DOWN: refused"


CRASHES_ONCE = """
import os, sys
from celery.signals import worker_ready
from engine.settings import Settings
from messaging.processes import RESTARTS_VARIABLE, build_process_app, run_celery_worker
from worker.tasks import register_worker_tasks

@worker_ready.connect
def crash_once(sender, **_):
    print(f"ready pid={os.getpid()} restarts={os.environ.get(RESTARTS_VARIABLE, '0')}", flush=True)
    if RESTARTS_VARIABLE not in os.environ:
        def broken(**_):
            raise AttributeError("'NoneType' object has no attribute 'hostname'")  # kombu's race
        sender.connection.drain_events = broken

settings = Settings(data_dir=sys.argv[1])
app = build_process_app(settings, "crashy", register_worker_tasks)
run_celery_worker(settings, app, ["default"], 1, pool="threads", name="crashy")
"""


def test_a_worker_that_crashes_after_it_was_ready_starts_itself_again(tmp_path: Path) -> None:
    script = tmp_path / "crashes_once.py"
    script.write_text(CRASHES_ONCE)
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data")], cwd=ROOT,
                                   env={**env_for("", tmp_path / "data"), "PODIUM_BROKER_URL": ""},
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "restarts=1" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert f"ready pid={process.pid} restarts=0" in text, text
        assert "Unrecoverable error" in text and "starting it again in 1 s (restart 1)" in text
        assert f"ready pid={process.pid} restarts=1" in text, text  # the same process, running again
    finally:
        code = stop(process)
    assert code == 0 and "restart 2" not in log.read_text()  # a requested stop is not a crash


def test_a_worker_that_stops_before_it_is_ready_or_when_asked_is_not_started_again() -> None:
    life = _WorkerLife()
    assert not life.crashed()  # never ready: bad arguments would fail the same way again
    life._on_ready(sender=SimpleNamespace(controller=SimpleNamespace(exitcode=1)))
    assert life.crashed() and life.exit_code() == 1
    life._on_shutting_down()
    assert not life.crashed()  # SIGTERM / Ctrl-C


@pytest.mark.parametrize("module", ["executor", "beat"])
def test_invalid_settings_are_reported_without_a_traceback(module: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**env_for("redis://127.0.0.1:1/0", tmp_path),
                                             "PODIUM_EXECUTOR__CONCURRENCY": "0"})
    assert result.returncode == 2, result.stderr
    assert "invalid settings" in result.stderr and "executor.concurrency" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_batch_budget_longer_than_a_third_of_the_lease_is_refused_by_podium_run(tmp_path: Path) -> None:
    flow = tmp_path / "hello.yml"
    flow.write_text("id: hello\nnamespace: t\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: hi}\n")
    result = subprocess.run([str(Path(sys.executable).parent / "podium"), "run", str(flow)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60,
                            env={**env_for("memory://", tmp_path), "PODIUM_WORKER__BATCH_SECONDS": "20"})
    assert result.returncode != 0
    assert "invalid settings" in result.stderr and "worker.batch_seconds (20.0)" in result.stderr
    assert "lower batch_seconds or raise lease_seconds" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("module", "own", "foreign"), [
    ("executor.celery_app", "podium.process_event", "podium.run_task_run"),
    ("worker.celery_app", "podium.run_task_run", "podium.process_event"),
])
def test_each_process_app_registers_its_own_tasks_only(module: str, own: str, foreign: str,
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # What `celery -A executor.celery_app` / `celery -A worker.celery_app` load.
    monkeypatch.setenv("PODIUM_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path))
    app = importlib.import_module(module).app
    assert own in app.tasks and foreign not in app.tasks
    with pytest.raises(AttributeError):
        importlib.import_module(module).not_an_app  # noqa: B018 - the module's __getattr__ refuses it
