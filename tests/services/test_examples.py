"""The example flows of flows/ that need no network run to SUCCESS on the real services."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from engine.state import State
from tests.services.conftest import Engine, one_run, states

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _run_example(engine: Engine, name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    flow = engine.services.deploy_file(FLOWS / f"{name}.yaml")
    return engine.start(flow.namespace, flow.id, **kwargs)


def test_hello_world_runs_to_success_with_its_default_input(engine: Engine) -> None:
    execution = _run_example(engine, "hello_world")
    assert execution.state.current == State.SUCCESS
    assert [r.task_id for r in execution.task_run_list] == ["first_task", "second_task"]
    assert states(execution) == {"first_task": State.SUCCESS, "second_task": State.SUCCESS}
    assert one_run(execution, "first_task").outputs == {"value": "thrilled"}
    assert all(len(r.attempts) == 1 for r in execution.task_run_list)
    assert execution.inputs == {"user": "Podium user"}
    assert engine.messages(execution.id, "second_task") == [
        "Podium user, we are thrilled to have you here!"]


def test_hello_world_with_a_given_input(engine: Engine) -> None:
    execution = _run_example(engine, "hello_world", inputs={"user": "Ada"})
    assert execution.state.current == State.SUCCESS
    assert engine.messages(execution.id, "second_task") == ["Ada, we are thrilled to have you here!"]


def test_kv_setup_stores_typed_values_then_reads_one(engine: Engine) -> None:
    execution = _run_example(engine, "kv_setup")
    assert execution.state.current == State.SUCCESS
    assert len(execution.task_run_list) == 4
    assert set(states(execution).values()) == {State.SUCCESS}
    kv = engine.services.env.kv
    now = engine.clock()
    assert kv.get("company.team", "api_url", now).value == "https://dummyjson.com/products"
    assert kv.get("company.team", "thresholds", now).value == {"warning": 80, "critical": 95}
    retention = kv.get("company.team", "retention", now)
    assert retention.type.value == "DURATION" and retention.value == timedelta(days=30)
    assert kv.get("company.team", "thresholds", now).type.value == "JSON"
    assert engine.messages(execution.id, "check") == ["api_url is https://dummyjson.com/products"]


def test_scheduled_report_started_by_hand_uses_the_start_date(engine: Engine) -> None:
    execution = _run_example(engine, "scheduled_report")
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"report": State.SUCCESS}
    [message] = engine.messages(execution.id, "report")
    assert message.startswith("Daily report for 2024-06-03T08:00")


def test_on_upstream_success_started_by_hand(engine: Engine) -> None:
    execution = _run_example(engine, "on_upstream_success", inputs={"upstream_execution": "abc"})
    assert execution.state.current == State.SUCCESS
    assert engine.messages(execution.id, "follow_up") == ["hello_world execution abc succeeded"]


def test_every_example_deploys(engine: Engine) -> None:
    deployed, problems = engine.services.deploy_folder(FLOWS)
    assert problems == []
    assert {d.flow.id for d in deployed} == {p.stem for p in FLOWS.glob("*.yaml")}
    assert all(d.revision == 1 and d.created for d in deployed)
