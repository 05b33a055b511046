"""The registry assembly (built-ins plus entry points) and the flow JSON schema built from it."""
from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from engine.model.task import TaskOptions
from engine.plugins import registry as registry_module
from engine.plugins.base import PluginKind, PluginSpec, UnknownType
from engine.plugins.registry import PluginWarning, default_registry
from engine.schema import flow_schema, plugin_schema

REGISTRY = default_registry()


class Hello(TaskOptions):
    greeting: str


HELLO = PluginSpec("acme.hello.Hello", PluginKind.RUNNABLE, Hello, "Say hello")


def test_builtins_include_core_triggers_conditions_and_ext_types() -> None:
    for name in ("io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Schedule",
                 "io.kestra.plugin.core.condition.ExpressionCondition",
                 "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
                 "io.kestra.plugin.fs.http.Trigger", "io.kestra.plugin.scripts.python.Script",
                 "io.kestra.plugin.jdbc.postgresql.CopyIn", "io.kestra.plugin.core.runner.Process"):
        assert name in REGISTRY, name
    assert REGISTRY.find("io.kestra.plugin.scripts.python.Script").implemented is True
    assert REGISTRY.find("io.kestra.plugin.jdbc.postgresql.CopyIn").implemented is False


def _entry_points(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(points))


def test_entry_points_add_third_party_types(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("acme", "tests.test_schema:third_party_specs", "podium.plugins")
    _entry_points(monkeypatch, point)
    assert default_registry().find("acme.hello.Hello") is HELLO


def third_party_specs() -> list[PluginSpec]:
    return [HELLO]


def test_broken_third_party_plugins_warn_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "acme_missing_module:specs", "podium.plugins")
    clash = EntryPoint("clash", "tests.test_schema:clashing_specs", "podium.plugins")
    _entry_points(monkeypatch, broken, clash)
    with pytest.warns(PluginWarning) as caught:
        registry = default_registry()
    messages = [str(w.message) for w in caught]
    assert any("'broken'" in m and "ModuleNotFoundError" in m for m in messages)
    assert any("registered twice" in m for m in messages)
    assert registry.find("io.kestra.plugin.core.log.Log").options is not Hello


def clashing_specs() -> list[PluginSpec]:
    return [PluginSpec("io.kestra.plugin.core.log.Log", PluginKind.RUNNABLE, Hello, "Clash")]


def test_flow_schema_is_draft7_and_references_every_type() -> None:
    schema = flow_schema(REGISTRY)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    definitions = schema["definitions"]
    assert definitions["Flow"]["properties"]["tasks"]["items"] == {"$ref": "#/definitions/Task"}
    task_refs = {ref["$ref"].rsplit("/", 1)[1] for ref in definitions["Task"]["oneOf"]}
    assert "io.kestra.plugin.core.log.Log" in task_refs
    assert "io.kestra.plugin.core.trigger.Schedule" not in task_refs
    _all_refs_resolve(schema, definitions)
    json.dumps(schema)  # serialisable


def _all_refs_resolve(node: Any, definitions: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            assert ref.rsplit("/", 1)[1] in definitions, ref
        for value in node.values():
            _all_refs_resolve(value, definitions)
    elif isinstance(node, list):
        for value in node:
            _all_refs_resolve(value, definitions)


def test_plugin_definition_carries_title_examples_aliases_and_dynamic_markers() -> None:
    definitions = flow_schema(REGISTRY)["definitions"]
    schedule = definitions["io.kestra.plugin.core.trigger.Schedule"]
    assert schedule["title"] and schedule["examples"]
    assert "io.kestra.core.models.triggers.types.Schedule" in schedule["properties"]["type"]["enum"]
    script = definitions["io.kestra.plugin.scripts.python.Script"]
    model = definitions[script["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert model["properties"]["script"]["dynamic"] is True
    assert model["properties"]["taskRunner"]["anyOf"][0] == {"$ref": "#/definitions/TaskRunner"}
    assert "x-implemented" not in script  # runs: only types Podium cannot run are marked
    assert definitions["io.kestra.plugin.jdbc.postgresql.CopyIn"]["x-implemented"] is False


def test_plugin_schema_for_one_type_and_unknown_types() -> None:
    assert plugin_schema(REGISTRY, "io.kestra.core.tasks.log.Log")["$ref"] == \
        "#/definitions/io.kestra.plugin.core.log.Log"
    with pytest.raises(UnknownType, match="did you mean 'io.kestra.plugin.core.log.Log'"):
        plugin_schema(REGISTRY, "io.kestra.plugin.core.log.Logg")
