"""Flow revisions, disabled flows and secrets, on the real services."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.inline import InlineDispatcher
from engine.errors import Conflict, FlowInvalid, NotFound
from engine.services import build_services
from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, FakeClock, one_run

SOURCE = """
id: versioned
namespace: tests.flows
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{message}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: end
    type: io.kestra.plugin.core.debug.Return
    format: "{message} end"
"""


def test_disabled_flow_is_refused_with_a_clear_error(engine: Engine) -> None:
    engine.deploy("""
        id: off
        namespace: tests.flows
        disabled: true
        tasks:
          - id: never
            type: io.kestra.plugin.core.log.Log
            message: never
    """)
    with pytest.raises(Conflict, match=r"flow tests\.flows\.off is disabled"):
        engine.services.start_execution("tests.flows", "off")
    assert engine.services.env.executions.list(namespace="tests.flows").total == 0
    assert engine.drain() == 0


def test_an_unknown_flow_is_refused(engine: Engine) -> None:
    with pytest.raises(NotFound, match=r"flow tests\.flows\.nope not found"):
        engine.services.start_execution("tests.flows", "nope")


def test_an_invalid_source_is_refused_with_its_position(engine: Engine) -> None:
    with pytest.raises(FlowInvalid, match=r"broken\.yaml:\d+:\d+"):
        engine.services.deploy_source(SOURCE.format(message="x").replace("debug.Return", "debug.Nope"),
                                      "broken.yaml")
    assert engine.services.env.flows.get("tests.flows", "versioned") is None


def test_each_changed_source_is_a_new_revision_and_an_unchanged_one_is_not(engine: Engine) -> None:
    first = engine.services.deploy_source(SOURCE.format(message="one"))
    again = engine.services.deploy_source(SOURCE.format(message="one"))
    second = engine.services.deploy_source(SOURCE.format(message="two"))
    assert (first.revision, first.created) == (1, True)
    assert (again.revision, again.created) == (1, False)
    assert (second.revision, second.created) == (2, True)
    assert [r.revision for r in engine.services.env.flows.revisions("tests.flows", "versioned")] == [1, 2]


def test_an_execution_stays_on_its_revision_after_a_redeploy(engine: Engine) -> None:
    engine.services.deploy_source(SOURCE.format(message="one"))
    old = engine.start("tests.flows", "versioned")
    assert old.state.current == State.PAUSED and old.flow_revision == 1
    engine.services.deploy_source(SOURCE.format(message="two"))
    engine.services.resume(old.id)
    engine.drain()
    old = engine.get(old.id)
    assert old.state.current == State.SUCCESS
    assert one_run(old, "end").outputs == {"value": "one end"}
    assert engine.messages(old.id, "say") == ["one"]

    new = engine.start("tests.flows", "versioned")
    assert new.flow_revision == 2
    engine.services.resume(new.id)
    engine.drain()
    assert one_run(engine.get(new.id), "end").outputs == {"value": "two end"}
    pinned = engine.start("tests.flows", "versioned", revision=1)
    assert pinned.flow_revision == 1 and engine.messages(pinned.id, "say") == ["one"]


SECRET_FLOW = """
id: secretive
namespace: tests.secrets
tasks:
  - id: log_it
    type: io.kestra.plugin.core.log.Log
    message: "the key is {{ secret('MY_KEY') }}"
  - id: return_it
    type: io.kestra.plugin.core.debug.Return
    format: "key={{ secret('my_key') }}"
"""
SECRET = "s3cr3t-value-42"


@pytest.fixture
def secret_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[Engine]:
    # Secrets are read once when the services are built, so the variable comes first.
    monkeypatch.setenv("SECRET_MY_KEY", base64.b64encode(SECRET.encode()).decode())
    clock = FakeClock()
    dispatcher = InlineDispatcher()
    services = build_services(Settings(data_dir=tmp_path / "secret-data", database_url=database_url),
                              dispatcher, clock=clock)
    yield Engine(services, dispatcher, clock)
    services.env.db.dispose()


def test_secrets_are_masked_in_logs_outputs_and_the_execution_json(secret_engine: Engine) -> None:
    execution = secret_engine.run(SECRET_FLOW)
    assert execution.state.current == State.SUCCESS
    assert secret_engine.messages(execution.id, "log_it") == ["the key is ******"]
    assert one_run(execution, "return_it").outputs == {"value": "key=******"}
    stored = json.dumps({"execution": execution.to_json(), "logs": secret_engine.logs(execution.id)})
    assert SECRET not in stored
    assert "******" in stored


def test_a_missing_secret_fails_the_task_clearly(engine: Engine) -> None:
    execution = engine.run(SECRET_FLOW.replace("MY_KEY", "ABSENT_KEY").replace("my_key", "ABSENT_KEY"))
    assert execution.state.current == State.FAILED
    assert one_run(execution, "log_it").state.current == State.FAILED
    assert any("ABSENT_KEY" in m for m in engine.messages(execution.id, "log_it"))


def test_a_secret_in_flow_outputs_and_labels_is_masked(secret_engine: Engine) -> None:
    execution = secret_engine.run("""
        id: secret_outputs
        namespace: tests.secrets
        tasks:
          - id: relabel
            type: io.kestra.plugin.core.execution.Labels
            labels:
              token: "{{ secret('MY_KEY') }}"
          - id: say
            type: io.kestra.plugin.core.debug.Return
            format: "ok"
        outputs:
          - id: leaked
            type: STRING
            value: "was {{ secret('MY_KEY') }}"
    """)
    assert execution.state.current == State.SUCCESS
    assert execution.outputs == {"leaked": "was ******"}
    assert execution.label_map["token"] == "******"
    stored = json.dumps({"execution": execution.to_json(), "logs": secret_engine.logs(execution.id)})
    assert SECRET not in stored
