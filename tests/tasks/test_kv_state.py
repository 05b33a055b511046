"""kv.Set/Get/GetKeys/Delete and the legacy state.Set/Get/Delete through run_task."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.state import State
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

KV = "io.kestra.plugin.core.kv."
STATE = "io.kestra.plugin.core.state."


def test_set_then_get_in_the_flow_namespace(run: Run, world: World) -> None:
    assert run({"type": KV + "Set", "key": "my_key", "value": "{{ inputs.v }}"},
               variables={"inputs": {"v": "hello"}}).state is State.SUCCESS
    entry = world.kv.get("company.team", "my_key")
    assert entry is not None and entry.value == "hello"
    assert run({"type": KV + "Get", "key": "my_key"}).outputs == {"value": "hello"}


@pytest.mark.parametrize(("kv_type", "text", "stored"), [
    ("NUMBER", "42", 42), ("NUMBER", "1.5", 1.5), ("BOOLEAN", "true", True),
    ("JSON", '{"a": [1]}', {"a": [1]}), ("DURATION", "PT1H", "PT1H"),
    ("DATETIME", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"), ("STRING", "12", "12"),
])
def test_set_types_the_value_with_kv_type(run: Run, world: World, kv_type: str, text: str, stored: object) -> None:
    assert run({"type": KV + "Set", "key": "k", "value": text, "kvType": kv_type}).state is State.SUCCESS
    entry = world.kv.get("company.team", "k")
    assert entry is not None and entry.value == stored


def test_set_with_a_bad_number_fails_clearly(run: Run) -> None:
    outcome = run({"type": KV + "Set", "key": "k", "value": "abc", "kvType": "NUMBER"})
    assert outcome.state is State.FAILED and "'abc' is not a valid NUMBER" in (outcome.error or "")


def test_set_refuses_to_overwrite_when_told(run: Run) -> None:
    run({"type": KV + "Set", "key": "k", "value": "1"})
    outcome = run({"type": KV + "Set", "key": "k", "value": "2", "overwrite": False})
    assert outcome.state is State.FAILED
    assert outcome.error == "Cannot set value for key 'k'. Key already exists and `overwrite` is set to `false`."


def test_invalid_key_fails(run: Run) -> None:
    outcome = run({"type": KV + "Set", "key": "-bad key", "value": "1"})
    assert outcome.state is State.FAILED and "invalid KV key '-bad key'" in (outcome.error or "")


def test_ttl_expires_the_key(run: Run, world: World) -> None:
    run({"type": KV + "Set", "key": "k", "value": "v", "ttl": "PT1M", "namespace": "company.team.other"})
    assert run({"type": KV + "Get", "key": "k", "namespace": "company.team.other"}).outputs == {"value": "v"}
    world.clock.now += timedelta(minutes=2)
    expired = run({"type": KV + "Get", "key": "k", "namespace": "company.team.other"})
    assert expired.state is State.FAILED and "has expired" in (expired.error or "")
    assert run({"type": KV + "GetKeys", "namespace": "company.team.other"}).outputs == {"keys": []}


def test_get_missing_key(run: Run) -> None:
    assert run({"type": KV + "Get", "key": "nope"}).outputs == {"value": None}
    outcome = run({"type": KV + "Get", "key": "nope", "errorOnMissing": True})
    assert outcome.error == ("No value found for key 'nope' in namespace 'company.team' "
                             "and `errorOnMissing` is set to true")


def test_get_keys_by_prefix_and_delete(run: Run) -> None:
    for key in ("orders_a", "orders_b", "users"):
        run({"type": KV + "Set", "key": key, "value": "x"})
    assert run({"type": KV + "GetKeys", "prefix": "orders_"}).outputs == {"keys": ["orders_a", "orders_b"]}
    assert run({"type": KV + "Delete", "key": "users"}).outputs == {"deleted": True}
    assert run({"type": KV + "Delete", "key": "users"}).outputs == {"deleted": False}
    assert run({"type": KV + "Delete", "key": "users", "errorOnMissing": True}).state is State.FAILED


def test_state_set_get_delete_cycle(run: Run) -> None:
    """Kestra's state.yaml: the first Set stores 1, an update stores the rendered text."""
    assert run({"type": STATE + "Get", "name": "s"}).outputs == {"data": {}, "count": 0}
    created = run({"type": STATE + "Set", "name": "s", "data": {"value": 1}})
    assert created.outputs["count"] == 1 and created.outputs["key"].startswith("kestra:///company/team/flow/states/s/")
    assert run({"type": STATE + "Get", "name": "s"}).outputs == {"data": {"value": 1}, "count": 1}
    run({"type": STATE + "Set", "name": "s", "data": {"value": "{{ inputs.v }}", "other": {"x": 1}}},
        variables={"inputs": {"v": 2}})
    assert run({"type": STATE + "Get", "name": "s"}).outputs == {"data": {"value": "2", "other": {"x": 1}}, "count": 2}
    assert run({"type": STATE + "Delete", "name": "s"}).outputs == {"deleted": True}
    assert run({"type": STATE + "Get", "name": "s"}).outputs["count"] == 0
    assert run({"type": STATE + "Get", "name": "s", "errorOnMissing": True}).state is State.FAILED


def test_state_is_kept_per_taskrun_value_unless_disabled(run: Run) -> None:
    run({"type": STATE + "Set", "name": "e", "data": {"v": "a"}}, value="a")
    run({"type": STATE + "Set", "name": "e", "data": {"v": "b"}}, value="b")
    assert run({"type": STATE + "Get", "name": "e"}, value="a").outputs["data"] == {"v": "a"}
    run({"type": STATE + "Set", "name": "e", "taskrunValue": False, "data": {"v": "shared"}}, value="a")
    shared = run({"type": STATE + "Get", "name": "e", "taskrunValue": False}, value="b")
    assert shared.outputs["data"] == {"v": "shared"}


def test_namespace_state_is_shared_between_flows(run: Run) -> None:
    run({"type": "io.kestra.core.tasks.states.Set", "name": "n", "namespace": True, "data": {"k": 1}}, flow_id="one")
    other_flow = run({"type": STATE + "Get", "name": "n", "namespace": True}, flow_id="two")
    assert other_flow.outputs["data"] == {"k": 1}
    assert run({"type": STATE + "Get", "name": "n"}, flow_id="two").outputs["count"] == 0


def test_a_namespace_outside_the_flow_s_tree_is_refused(run: Run, world: World) -> None:
    for task in ({"type": KV + "Set", "key": "k", "value": "v"}, {"type": KV + "Get", "key": "k"},
                 {"type": KV + "Delete", "key": "k"}, {"type": KV + "GetKeys"}):
        outcome = run({**task, "namespace": "company.other"})
        assert outcome.state is State.FAILED
        assert "Cannot access the KV store of namespace 'company.other' from a flow of namespace " \
               "'company.team'" in (outcome.error or "")
    assert world.kv.get("company.other", "k") is None
