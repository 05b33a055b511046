"""Kestra 1.x runnables: execution.Assert, kv.PurgeKV and ``taskCache``, through run_task with a
real context (real Renderer, LocalStorage, settable clock)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.model.task import LogLevel
from engine.state import State
from engine.tasks.outcome import TaskOutcome
from engine.tasks.protocols import KVEntry
from engine.tasks.task_cache import run_cached
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

ASSERT = "io.kestra.plugin.core.execution.Assert"
PURGE = "io.kestra.plugin.core.kv.PurgeKV"


# -- execution.Assert ---------------------------------------------------------------------------
def test_assert_passes_when_every_condition_is_true(run: Run, world: World) -> None:
    outcome = run({"type": ASSERT, "conditions": ["{{ inputs.param == 'ok' }}", "{{ 1 + 1 == 2 }}", "yes"]},
                  variables={"inputs": {"param": "ok"}})
    assert outcome.state is State.SUCCESS
    assert {(m.name, m.value) for m in outcome.metrics} == {("success", 3), ("failed", 0)}


def test_assert_fails_listing_each_failed_condition(run: Run, world: World) -> None:
    outcome = run({"type": ASSERT, "errorMessage": "param was {{ inputs.param }}",
                   "conditions": ["{{ inputs.param == 'ok' }}", "{{ 1 + 1 == 3 }}", "{{ 1 == 1 }}", "0"]},
                  variables={"inputs": {"param": "ko"}})
    assert outcome.state is State.FAILED
    assert outcome.error == "3 assertions failed!\nparam was ko"
    errors = world.messages(LogLevel.ERROR)
    assert "Assertion `{{ inputs.param == 'ok' }}` failed!" in errors
    assert "Assertion `{{ 1 + 1 == 3 }}` failed!" in errors and "Assertion `0` failed!" in errors
    assert {(m.name, m.value) for m in outcome.metrics} == {("success", 1), ("failed", 3)}


def test_assert_counts_a_condition_that_does_not_render_as_failed(run: Run, world: World) -> None:
    outcome = run({"type": ASSERT, "conditions": ["{{ missing.thing }}"]})
    assert outcome.state is State.FAILED and outcome.error == "1 assertion failed!"
    assert any(m.startswith("Assertion `{{ missing.thing }}` failed, failed to render")
               for m in world.messages(LogLevel.ERROR))


# -- kv.PurgeKV ---------------------------------------------------------------------------------
def _fill(world: World) -> None:
    past = world.clock.now - timedelta(minutes=1)
    for namespace in ("company.team", "company.team.sub", "company.teammates", "company.other"):
        world.kv.set(namespace, KVEntry("AI_expired", "x", expiration_date=past))
        world.kv.set(namespace, KVEntry("AI_live", "x"))
        world.kv.set(namespace, KVEntry("other_expired", "x", expiration_date=past))


def _keys(world: World, namespace: str) -> list[str]:
    return [entry.key for entry in world.kv.list(namespace)]


def test_purge_kv_deletes_the_expired_keys_of_the_flow_tree_by_default(run: Run, world: World) -> None:
    _fill(world)
    outcome = run({"type": PURGE})
    assert outcome.state is State.SUCCESS and outcome.outputs == {"size": 4}
    assert _keys(world, "company.team") == _keys(world, "company.team.sub") == ["AI_live"]
    assert len(_keys(world, "company.teammates")) == 3 and len(_keys(world, "company.other")) == 3
    assert "purging 2 namespaces: [company.team, company.team.sub]" in world.messages()
    assert "purged 4 keys" in world.messages()


def test_purge_kv_filters_by_key_pattern_and_child_namespaces(run: Run, world: World) -> None:
    _fill(world)
    outcome = run({"type": PURGE, "namespaces": ["company.team"], "includeChildNamespaces": False,
                   "keyPattern": "AI_*", "behavior": {"type": "key", "expiredOnly": False}})
    assert outcome.outputs == {"size": 2}
    assert _keys(world, "company.team") == ["other_expired"]
    assert len(_keys(world, "company.team.sub")) == 3


def test_purge_kv_expired_only_wins_over_behavior_and_pattern_selects_namespaces(run: Run, world: World) -> None:
    _fill(world)
    outcome = run({"type": PURGE, "namespacePattern": "company.*.sub", "expiredOnly": "{{ true }}",
                   "behavior": {"type": "key", "expiredOnly": False}})
    assert outcome.outputs == {"size": 2}
    assert _keys(world, "company.team.sub") == ["AI_live"] and len(_keys(world, "company.team")) == 3


def test_purge_kv_refuses_a_namespace_outside_the_flow_tree(run: Run, world: World) -> None:
    _fill(world)
    outcome = run({"type": PURGE, "namespaces": ["company.team", "company"]})
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.startswith(
        "PurgeKV can purge only the flow's namespace 'company.team' and its child namespaces; 'company' is outside it")
    assert len(_keys(world, "company.team")) == 3  # nothing purged


def test_purge_kv_version_behavior_never_deletes_the_only_version(run: Run, world: World) -> None:
    _fill(world)
    before = {"type": "version", "before": "2024-01-01T00:00:00Z"}
    assert run({"type": PURGE, "behavior": before}).outputs == {"size": 0}
    assert run({"type": PURGE, "behavior": {"type": "version", "keepAmount": 1}}).outputs == {"size": 0}
    assert run({"type": PURGE, "behavior": {"type": "version", "keepAmount": 0}}).outputs == {"size": 6}


def test_purge_kv_rejects_both_namespace_filters_at_validation(world: World) -> None:
    spec = world.registry.resolve(PURGE)
    with pytest.raises(ValueError, match="can't be used at the same time"):
        spec.options.model_validate({"id": "p", "type": PURGE, "namespaces": ["a"], "namespacePattern": "a*"})


# -- taskCache ----------------------------------------------------------------------------------
def _cached_run(world: World, task: dict[str, Any], value: str | None = None, **variables: Any) -> TaskOutcome:
    task = {"id": "cached", **task}
    spec = world.registry.resolve(task["type"])
    options = spec.options.model_validate(task, context={"registry": world.registry})
    with world.context("cached", variables=variables, value=value) as ctx:
        return run_cached(spec, options, ctx)


def test_task_cache_reuses_outputs_until_the_ttl_passes(world: World) -> None:
    task = {"type": "io.kestra.plugin.core.kv.Get", "key": "k",
            "taskCache": {"enabled": True, "ttl": "PT1H"}}
    world.kv.set("company.team", KVEntry("k", "first"))
    assert _cached_run(world, task).outputs == {"value": "first"}
    world.kv.set("company.team", KVEntry("k", "second"))
    world.clock.now += timedelta(minutes=59)
    hit = _cached_run(world, task)
    assert hit.state is State.SUCCESS and hit.outputs == {"value": "first"}
    assert "Skipping task execution for task 'cached' as there is an existing cache entry for it" in world.messages()
    world.clock.now += timedelta(minutes=2)  # 61 minutes after the entry was stored
    assert _cached_run(world, task).outputs == {"value": "second"}


def test_task_cache_key_is_the_rendered_task_and_the_task_run_value(world: World) -> None:
    task = {"type": "io.kestra.plugin.core.debug.Return", "format": "{{ inputs.n }}", "taskCache": {"enabled": True}}
    assert _cached_run(world, task, inputs={"n": 1}).outputs == {"value": "1"}
    assert _cached_run(world, task, inputs={"n": 2}).outputs == {"value": "2"}
    assert _cached_run(world, task, value="a", inputs={"n": 1}).outputs == {"value": "1"}
    assert _cached_run(world, task, inputs={"n": 1}).outputs == {"value": "1"}
    uploads = [m for m in world.messages() if m.startswith("Uploading a cache entry")]
    skips = [m for m in world.messages() if m.startswith("Skipping task execution")]
    assert (len(uploads), len(skips)) == (3, 1)  # three keys; the last run reused the first


def test_task_cache_stores_nothing_for_a_failed_run_and_is_off_when_disabled(world: World) -> None:
    failing = {"type": "io.kestra.plugin.core.execution.Fail", "taskCache": {"enabled": True}}
    assert _cached_run(world, failing).state is State.FAILED
    assert _cached_run(world, failing).state is State.FAILED
    disabled = {"type": "io.kestra.plugin.core.debug.Return", "format": "x", "taskCache": {"enabled": False}}
    _cached_run(world, disabled)
    _cached_run(world, disabled)
    assert not any("cache" in m for m in world.messages())


def test_task_cache_ttl_must_be_a_positive_duration(world: World) -> None:
    spec = world.registry.resolve("io.kestra.plugin.core.log.Log")
    with pytest.raises(ValueError, match="must be a positive duration"):
        spec.options.model_validate({"id": "l", "type": spec.type, "message": "m",
                                     "taskCache": {"enabled": True, "ttl": "PT0S"}})
