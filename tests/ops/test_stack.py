"""The compose services' commands as real processes on Redis + PostgreSQL.

``podium executor``, ``podium worker``, ``celery -A worker.celery_app flower`` and
``gunicorn 'app:create_app()'`` run as subprocesses (JSON logs, as in docker-compose.yml); the test
starts flows through the database and the broker like any client, then checks what an operator
sees: ``celery inspect active`` and Flower's API while a long ``flow.Sleep`` runs, the web's
``/health`` and ``/metrics`` afterwards, and the ids carried by the log lines.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.services import Services, build_services
from engine.settings import Settings
from engine.state import State
from tests.celery.procs import CELERY, ROOT, stop, wait_until
from tests.servers import free_port

PODIUM = str(Path(sys.executable).with_name("podium"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
DEADLINE = 90.0  # generous, for slow machines: these are deadlines, not timing assertions

FLOWS = ["""
id: hello
namespace: company.team
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: hello
""", """
id: slow
namespace: company.team
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT10M
"""]

pytestmark = pytest.mark.slow


class Stack:
    def __init__(self, tmp_path: Path, env: dict[str, str], services: Services) -> None:
        self.tmp_path, self.env, self.services = tmp_path, env, services
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.web_port, self.flower_port = free_port(), free_port()

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        with open(self.log(name), "ab") as out:
            self.processes[name] = subprocess.Popen(args, cwd=ROOT, env={**self.env, **(extra_env or {})},
                                                    stdout=out, stderr=subprocess.STDOUT)

    def log(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name).read_text(errors='replace')[-3000:]}"
                         for name in self.processes)

    def get(self, port: int, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 0, b""

    def run_flow(self, flow_id: str) -> str:
        return self.services.start_execution("company.team", flow_id).id

    def state(self, execution_id: str) -> State:
        return self.services.get_execution(execution_id).state.current


@pytest.fixture
def stack(tmp_path: Path, postgres_database_url: str, redis_url: str) -> Iterator[Stack]:
    env = {**_base_env(), "PODIUM_DATABASE_URL": postgres_database_url, "PODIUM_BROKER_URL": redis_url,
           "PODIUM_DATA_DIR": str(tmp_path / "data"), "PODIUM_LOG_FORMAT": "json",
           "PODIUM_METRICS_FLUSH_SECONDS": "0.2", "PYTHONPATH": str(ROOT)}
    settings = Settings(database_url=postgres_database_url, broker_url=redis_url, data_dir=tmp_path / "data")
    from messaging.celery_app import make_celery
    from messaging.dispatch import CeleryDispatcher

    services = build_services(settings, CeleryDispatcher(make_celery(settings)))
    for source in FLOWS:
        services.deploy_source(textwrap.dedent(source))
    stack = Stack(tmp_path, env, services)
    stack.start("executor", [PODIUM, "executor"])
    stack.start("worker", [PODIUM, "worker", "-P", "threads", "-c", "2"])
    stack.start("flower", [CELERY, "-A", "worker.celery_app", "flower", "--address=127.0.0.1",
                           f"--port={stack.flower_port}"], {"FLOWER_UNAUTHENTICATED_API": "true"})
    stack.start("web", [GUNICORN, "--bind", f"127.0.0.1:{stack.web_port}", "--workers", "2", "app:create_app()"])
    try:
        yield stack
    finally:
        for process in stack.processes.values():
            stop(process)
        services.env.db.dispose()


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}


def test_operators_see_the_running_flow_and_the_web_reports_it(stack: Stack) -> None:
    hello = stack.run_flow("hello")
    assert wait_until(lambda: stack.state(hello) == State.SUCCESS, DEADLINE), stack.logs()

    hellos = 1 + _wait_for_flower_events(stack)
    slow = stack.run_flow("slow")
    assert wait_until(lambda: _running_sleep(stack, slow), DEADLINE), stack.logs()
    _check_inspect_active(stack, slow)
    _check_flower(stack, slow)
    stack.services.kill(slow)
    assert wait_until(lambda: stack.state(slow) == State.KILLED, DEADLINE), stack.logs()

    assert wait_until(lambda: stack.get(stack.web_port, "/health")[0] == 200, DEADLINE), stack.logs()
    health = json.loads(stack.get(stack.web_port, "/health")[1])
    assert health == {"status": "UP", "database": "UP", "broker": "UP", "broker_url": stack.env["PODIUM_BROKER_URL"]}

    def metrics() -> str:
        return stack.get(stack.web_port, "/metrics")[1].decode()

    # The worker and executor write their totals every 0.2 s: wait for the ones of both flows, from
    # both processes (the worker records an attempt's phases after it reported the attempt's end,
    # so the executor's KILLED duration alone can come first).
    def flushed(text: str) -> bool:
        return ('podium_task_run_duration_seconds_count{state="KILLED"} 1.0' in text
                and f'podium_task_run_phase_seconds_count{{phase="started_to_finished"}} {hellos + 1}.0' in text)

    assert wait_until(lambda: flushed(metrics()), DEADLINE), metrics() + stack.logs()
    lines = set(metrics().splitlines())
    assert f'podium_executions{{state="SUCCESS"}} {hellos}.0' in lines
    assert 'podium_executions{state="KILLED"} 1.0' in lines
    assert f'podium_task_run_duration_seconds_count{{state="SUCCESS"}} {hellos}.0' in lines
    for phase in ("created_to_dispatched", "dispatched_to_started", "started_to_finished"):
        assert f'podium_task_run_phase_seconds_count{{phase="{phase}"}} {hellos + 1}.0' in lines, phase
    assert 'podium_queue_messages{queue="default"} 0.0' in lines
    _check_json_logs(stack, hello)


def _running_sleep(stack: Stack, execution_id: str) -> bool:
    execution = stack.services.get_execution(execution_id)
    return any(run.task_id == "nap" and run.state.current == State.RUNNING for run in execution.task_run_list)


def _check_inspect_active(stack: Stack, execution_id: str) -> None:
    result = subprocess.run([CELERY, "-A", "worker.celery_app", "inspect", "active", "--json", "-t", "5"],
                            cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    replies: dict[str, list[dict[str, Any]]] = json.loads(result.stdout.strip().splitlines()[-1])
    active = [task for tasks in replies.values() for task in tasks]
    (task,) = [t for t in active if t["name"] == "podium.run_task_run"]
    assert task["kwargs"]["execution_id"] == execution_id
    assert (task["kwargs"]["flow"], task["kwargs"]["task_id"], task["kwargs"]["task_type"]) == (
        "company.team.slow", "nap", "io.kestra.plugin.core.flow.Sleep")
    assert task["id"] == f"{task['kwargs']['task_run_id']}.1"
    # The human-readable form shows the same names.
    text = subprocess.run([CELERY, "-A", "worker.celery_app", "inspect", "active", "-t", "5"], cwd=ROOT,
                          env=stack.env, capture_output=True, text=True, timeout=60).stdout
    assert "podium.run_task_run" in text and "company.team.slow" in text and "'task_id': 'nap'" in text


def _flower_task(stack: Stack, execution_id: str) -> dict[str, Any] | None:
    status, body = stack.get(stack.flower_port, "/api/tasks?taskname=podium.run_task_run")
    tasks = json.loads(body).values() if status == 200 else []
    return next((t for t in tasks if execution_id in str(t.get("kwargs"))), None)


def _wait_for_flower_events(stack: Stack) -> int:
    """Workers send task events once Flower turned them on (it does every 5 s, Celery's way):
    until then, a task shows in Flower without its name. A hello run at a time until one shows;
    returns how many ran, once they all succeeded."""
    started: list[str] = []

    def shown() -> bool:
        started.append(stack.run_flow("hello"))
        return wait_until(lambda: _flower_task(stack, started[-1]) is not None, 2.0)

    assert wait_until(shown, DEADLINE), stack.logs()
    assert wait_until(lambda: all(stack.state(run) == State.SUCCESS for run in started), DEADLINE), stack.logs()
    return len(started)


def _check_flower(stack: Stack, execution_id: str) -> None:
    def workers() -> dict[str, Any]:
        status, body = stack.get(stack.flower_port, "/api/workers?refresh=1")
        return json.loads(body) if status == 200 else {}

    assert wait_until(lambda: {name.split("@")[0] for name in workers()} >= {"executor", "worker"}, DEADLINE), \
        stack.logs()
    assert wait_until(lambda: _flower_task(stack, execution_id) is not None, DEADLINE), stack.logs()
    task = _flower_task(stack, execution_id)
    assert task is not None and task["name"] == "podium.run_task_run"
    assert "company.team.slow" in task["kwargs"] and task["worker"].startswith("worker@")


def _check_json_logs(stack: Stack, execution_id: str) -> None:
    events = [json.loads(line) for line in stack.log("worker").read_text().splitlines() if line.startswith("{")]
    started = [e for e in events if e.get("event") == "task run started" and e.get("execution_id") == execution_id]
    assert started, stack.logs()
    assert {"task_run_id", "task_id", "flow", "timestamp", "level", "process"} <= set(started[0])
    first = started[0]
    assert (first["flow"], first["task_id"], first["process"]) == ("company.team.hello", "greet", "worker")
