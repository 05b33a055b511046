"""On ``podium server local``, as a user runs it from other terminals: the exit codes of
``execution start --wait`` for each final state, and triggers that fire (the shipped
``on_upstream_success`` example) or say why they did not (``triggers list``, ``triggers logs``)."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.celery.procs import ROOT, wait_until
from tests.server.helpers import DEADLINE, PODIUM, Server, clean_env, write_flow

pytestmark = pytest.mark.slow

SLEEPY = """
    id: sleepy
    namespace: company.team
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT10M
    """
LIMITED = """
    id: limited
    namespace: company.team
    concurrency:
      limit: 1
      behavior: CANCEL
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT10M
    """
WARNS = """
    id: warns
    namespace: company.team
    tasks:
      - id: tolerated
        type: io.kestra.plugin.core.execution.Fail
        allowFailure: true
    """
NEEDS_INT = """
    id: needs_int
    namespace: company.team
    inputs:
      - id: n
        type: INT
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "{{ inputs.n }}"
    """
BROKEN_FOLLOWER = """
    id: broken_follower
    namespace: company.team
    inputs:
      - id: value
        type: STRING
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "{{ inputs.value }}"
    triggers:
      - id: after_hello
        type: io.kestra.plugin.core.trigger.Flow
        inputs:
          value: "{{ outputs.no_such_task.value }}"
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.team
            flowId: hello_world
    """


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    flows = root / "flows"
    flows.mkdir()
    for example in ("hello_world.yaml", "on_upstream_success.yaml"):  # the shipped files, as they are
        shutil.copy(ROOT / "flows" / example, flows / example)
    for name, text in {"sleepy": SLEEPY, "limited": LIMITED, "warns": WARNS, "needs_int": NEEDS_INT,
                       "broken_follower": BROKEN_FOLLOWER}.items():
        write_flow(flows / f"{name}.yaml", text)
    running = Server(flows, root / "data", root)
    yield running
    running.interrupt()


def executions_of(server: Server, flow_id: str) -> list[dict]:
    return [item.to_json() for item in server.reader.env.executions.list(flow_id=flow_id, size=50).items]


def wait_json(server: Server, flow_id: str, *options: str) -> tuple[int, dict]:
    done = server.podium("execution", "start", "company.team", flow_id, "--wait", "--json", *options)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_shipped_flow_trigger_example_runs_after_hello_world(server: Server) -> None:
    code, upstream = wait_json(server, "hello_world")
    assert code == 0 and upstream["state"]["current"] == "SUCCESS"
    assert wait_until(lambda: [e["state"]["current"] for e in executions_of(server, "on_upstream_success")]
                      == ["SUCCESS"], DEADLINE), executions_of(server, "on_upstream_success")
    [follower] = executions_of(server, "on_upstream_success")
    assert follower["inputs"] == {"upstream_execution": upstream["id"]}
    assert follower["trigger"]["variables"]["executionId"] == upstream["id"]
    logs = server.podium("execution", "logs", follower["id"], "--json")
    assert [log["message"] for log in json.loads(logs.stdout)] == [
        f"hello_world execution {upstream['id']} succeeded"]

    # The other listener of hello_world cannot render its inputs: it says so where one looks.
    assert executions_of(server, "broken_follower") == []
    listed = server.podium("triggers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["flowId"]: row for row in json.loads(listed.stdout)}
    assert rows["on_upstream_success"]["lastError"] is None
    error = rows["broken_follower"]["lastError"]
    assert "invalid inputs" in error and "no_such_task" in error and upstream["id"] in error
    assert rows["broken_follower"]["lastErrorDate"] is not None
    table = server.podium("triggers", "list")
    assert "invalid inputs" in table.stdout and "podium triggers logs" in table.stdout
    logged = server.podium("triggers", "logs", "company.team", "broken_follower", "--json")
    assert [(log["triggerId"], log["message"]) for log in json.loads(logged.stdout)] == [("after_hello", error)]
    assert "executionId" not in json.loads(logged.stdout)[0]
    warnings = [line for line in server.err.splitlines() if "broken_follower trigger after_hello" in line]
    # One line (its WARNING level is checked in tests/flow_triggers/test_trigger_start.py).
    assert len(warnings) == 1 and "did not start an execution" in warnings[0] and "no_such_task" in warnings[0]


def test_wait_exits_1_with_the_json_when_the_execution_is_killed(server: Server) -> None:
    waiting = subprocess.Popen([PODIUM, "execution", "start", "company.team", "sleepy", "--wait", "--json",
                                "--data-dir", str(server.data)], cwd=ROOT, env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: [e["state"]["current"] for e in executions_of(server, "sleepy")] == ["RUNNING"],
                          DEADLINE)
        [running] = executions_of(server, "sleepy")
        assert server.podium("execution", "kill", running["id"]).returncode == 0
        out, err = waiting.communicate(timeout=DEADLINE)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 1, err
    document = json.loads(out)
    assert document["id"] == running["id"] and document["state"]["current"] == "KILLED"


def test_wait_exits_1_with_the_json_when_the_execution_is_cancelled(server: Server) -> None:
    first = server.start("company.team", "limited")
    server.wait_for_state(first, "RUNNING")
    code, document = wait_json(server, "limited")
    assert code == 1 and document["state"]["current"] == "CANCELLED" and document["id"] != first
    assert server.podium("execution", "kill", first).returncode == 0


def test_wait_exits_0_on_warning_unless_strict(server: Server) -> None:
    code, document = wait_json(server, "warns")
    assert code == 0 and document["state"]["current"] == "WARNING"
    code, document = wait_json(server, "warns", "--strict")
    assert code == 1 and document["state"]["current"] == "WARNING"


def test_start_exits_2_when_the_flow_or_its_inputs_are_refused(server: Server) -> None:
    missing = server.podium("execution", "start", "company.team", "nope", "--wait")
    assert missing.returncode == 2 and "company.team.nope" in missing.stderr and "not found" in missing.stderr
    refused = server.podium("execution", "start", "company.team", "needs_int", "--wait", "--json", "-i", "n=x")
    assert refused.returncode == 2 and refused.stdout == "" and "`n`" in refused.stderr
    for result in (missing, refused):
        assert "Traceback" not in result.stderr
