"""``podium server local`` as a real process, operated by ``podium`` commands from other processes.

One server per test module (start-up costs a second or two); each test uses its own flows so that
the tests do not depend on each other's order. Everything talks through the default embedded
broker, ``podium-fs://`` under the data folder: no Redis, no settings.
"""
from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.celery.procs import ROOT, wait_until
from tests.server.helpers import DEADLINE, PODIUM, Proc, Server, clean_env, log_flow, write_flow

pytestmark = pytest.mark.slow

SLEEPY = """
    id: sleepy
    namespace: company.team
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT10M
    """
PAUSED = """
    id: paused
    namespace: company.team
    tasks:
      - id: wait
        type: io.kestra.plugin.core.flow.Pause
        onResume:
          - id: color
            type: STRING
      - id: after
        type: io.kestra.plugin.core.log.Log
        message: "resumed with {{ outputs.wait.onResume.color }}"
    """
GPU = """
    id: on_gpu
    namespace: company.team
    tasks:
      - id: render
        type: io.kestra.plugin.core.log.Log
        message: rendered on a gpu worker
        workerGroup:
          key: gpu
    """
GREETING = """
    id: greeting
    namespace: company.team
    inputs:
      - id: user
        type: STRING
    tasks:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: "hello {{ inputs.user }}"
    """


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    flows = root / "flows"
    flows.mkdir()
    write_flow(flows / "hello.yaml", log_flow("hello", "hello v1"))
    for name, text in {"sleepy": SLEEPY, "paused": PAUSED, "on_gpu": GPU, "greeting": GREETING}.items():
        write_flow(flows / f"{name}.yaml", text)
    running = Server(flows, root / "data", root)
    yield running
    running.interrupt()


def run_to_end(server: Server, flow_id: str, *options: str) -> tuple[int, dict]:
    done = server.podium("execution", "start", "company.team", flow_id, "--wait", "--json", *options)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_health_answers_with_database_and_broker(server: Server) -> None:
    assert wait_until(lambda: server.health()[0] == 200, DEADLINE)
    status, body = server.health()
    assert body == {"status": "UP", "database": "UP", "broker": "UP", "broker_url": "podium-fs://"}
    assert "5 deployed" in server.out


def test_start_and_wait_from_another_process(server: Server) -> None:
    code, execution = run_to_end(server, "greeting", "-i", "user=Ada")
    assert code == 0 and execution["state"]["current"] == "SUCCESS"
    assert [log["message"] for log in execution["logs"]] == ["hello Ada"]


def test_start_without_wait_prints_the_id(server: Server) -> None:
    execution_id = server.start("company.team", "hello")
    assert server.wait_for_state(execution_id, "SUCCESS")["id"] == execution_id


def test_start_explains_bad_requests_in_one_line(server: Server) -> None:
    missing = server.podium("execution", "start", "company.team", "nope")
    assert missing.returncode == 2 and "company.team.nope" in missing.stderr and "not found" in missing.stderr
    no_input = server.podium("execution", "start", "company.team", "greeting")
    assert no_input.returncode == 2 and "user" in no_input.stderr
    bad_json = server.podium("execution", "start", "company.team", "greeting", "--inputs", "{user: Ada}")
    assert bad_json.returncode == 2 and "--inputs" in bad_json.stderr and "JSON" in bad_json.stderr
    on_memory = subprocess.run([PODIUM, "execution", "start", "company.team", "hello", "--data-dir", str(server.data)],
                               cwd=ROOT, env={**clean_env(), "PODIUM_BROKER_URL": "memory://"},
                               capture_output=True, text=True, timeout=DEADLINE)
    assert on_memory.returncode == 1 and "memory://" in on_memory.stderr and "podium run" in on_memory.stderr
    for result in (missing, no_input, bad_json, on_memory):
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_saved_file_becomes_a_new_revision_and_runs(server: Server) -> None:
    path = write_flow(server.flows / "evolving.yaml", log_flow("evolving", "first"))
    assert wait_until(lambda: "company.team.evolving revision 1" in server.out, DEADLINE)
    write_flow(path, log_flow("evolving", "second"))
    assert wait_until(lambda: "company.team.evolving revision 2" in server.out, DEADLINE), server.out
    code, execution = run_to_end(server, "evolving")
    assert code == 0 and execution["flowRevision"] == 2
    assert [log["message"] for log in execution["logs"]] == ["second"]


def test_invalid_file_is_reported_and_the_previous_revision_stays_live(server: Server) -> None:
    path = write_flow(server.flows / "steady.yaml", log_flow("steady", "still here"))
    assert wait_until(lambda: "company.team.steady revision 1" in server.out, DEADLINE)
    write_flow(path, log_flow("steady", "broken").replace("message:", "mesage:"))
    # file:line:column of the misspelt key (line 6, column 5), as the watcher prints it
    assert wait_until(lambda: f"{path}:6:5" in server.err, DEADLINE), server.err
    assert "company.team.steady revision 1 stays live" in server.err
    code, execution = run_to_end(server, "steady")
    assert code == 0 and execution["flowRevision"] == 1
    assert [log["message"] for log in execution["logs"]] == ["still here"]


def test_kill_from_another_process(server: Server) -> None:
    execution_id = server.start("company.team", "sleepy")
    running = server.wait_for_state(execution_id, "RUNNING")
    assert wait_until(lambda: _task_states(server, execution_id) == ["RUNNING"], DEADLINE)
    killed = server.podium("execution", "kill", execution_id)
    assert killed.returncode == 0, killed.stderr
    ended = server.wait_for_state(execution_id, "KILLED")
    assert running["id"] == ended["id"] and [run["state"]["current"] for run in ended["taskRunList"]] == ["KILLED"]
    again = server.podium("execution", "kill", execution_id)
    assert again.returncode == 1 and "already ended" in again.stderr


def test_resume_from_another_process(server: Server) -> None:
    execution_id = server.start("company.team", "paused")
    server.wait_for_state(execution_id, "PAUSED")
    resumed = server.podium("execution", "resume", execution_id, "-i", "color=blue")
    assert resumed.returncode == 0, resumed.stderr
    ended = server.wait_for_state(execution_id, "SUCCESS", "FAILED", "WARNING")
    assert ended["state"]["current"] == "SUCCESS"
    logs = server.podium("execution", "logs", execution_id, "--json")
    assert [entry["message"] for entry in json.loads(logs.stdout)] == ["resumed with blue"]


def test_a_separate_worker_process_joins_for_a_worker_group(server: Server, tmp_path: Path) -> None:
    execution_id = server.start("company.team", "on_gpu")
    # Nothing in the server consumes the gpu queue; the task run waits for a worker of that group.
    assert server.execution(execution_id)["state"]["current"] in ("CREATED", "RUNNING")
    worker = Proc([PODIUM, "worker", "-Q", "gpu", "-c", "1", "--data-dir", str(server.data)], tmp_path, "worker")
    try:
        ended = server.wait_for_state(execution_id, "SUCCESS", "FAILED", "WARNING", "KILLED")
        assert ended["state"]["current"] == "SUCCESS", ended
        assert "queues gpu on podium-fs://" in worker.out
    finally:
        code = worker.interrupt(signal.SIGTERM)
    assert code == 0 and "Traceback" not in worker.err, worker.err
    bindings = (server.data / "broker" / "control" / "celery.pidbox.exchange").read_text()
    assert "embedded-" in bindings and "worker-" not in bindings  # the stopped worker unbound itself


def test_work_sent_while_the_server_is_down_runs_when_it_starts_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    flows, data = tmp_path / "flows", tmp_path / "data"
    flows.mkdir()
    path = write_flow(flows / "hello.yaml", log_flow("hello", "queued while down"))
    offline = subprocess.run([PODIUM, "flow", "deploy", str(path), "--data-dir", str(data)],
                             cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert offline.returncode == 0, offline.stderr
    early = subprocess.run([PODIUM, "execution", "start", "company.team", "hello", "--data-dir", str(data)],
                           cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert early.returncode == 0, early.stderr
    server = Server(flows, data, tmp_path)
    assert server.wait_for_state(early.stdout.strip(), "SUCCESS")["state"]["current"] == "SUCCESS"
    code, execution = run_to_end(server, "hello")
    assert code == 0 and execution["state"]["current"] == "SUCCESS"
    assert server.interrupt(signal.SIGINT) == 0
    assert "Traceback" not in server.err, server.err
    assert server.out.rstrip().endswith("podium server local: stopped")
    bindings = json.loads((data / "broker" / "control" / "celery.pidbox.exchange").read_text())
    assert bindings == []  # the stopped worker left no remote-control queue behind


def _task_states(server: Server, execution_id: str) -> list[str]:
    return [run["state"]["current"] for run in server.execution(execution_id)["taskRunList"]]
