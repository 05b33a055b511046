"""Plugin defaults: matching by type or prefix, filling gaps, forcing, precedence."""
from __future__ import annotations

from engine.plugin_defaults import apply_plugin_defaults, deep_merge
from engine.plugins.registry import default_registry

LOG = "io.kestra.plugin.core.log.Log"
REGISTRY = default_registry()


def flow_with(task: dict, **fields: object) -> dict:
    return {"id": "f", "namespace": "n", "tasks": [task], **fields}


def test_non_forced_defaults_fill_only_missing_keys() -> None:
    data = flow_with({"id": "t", "type": LOG, "message": "mine"},
                     pluginDefaults=[{"type": LOG, "values": {"message": "default", "level": "WARN"}}])
    assert apply_plugin_defaults(data)["tasks"][0] == {"id": "t", "type": LOG, "message": "mine", "level": "WARN"}


def test_forced_defaults_override() -> None:
    data = flow_with({"id": "t", "type": LOG, "message": "mine"},
                     pluginDefaults=[{"type": LOG, "forced": True, "values": {"message": "forced"}}])
    assert apply_plugin_defaults(data)["tasks"][0]["message"] == "forced"


def test_prefix_match_and_nested_tasks_and_triggers() -> None:
    data = {"id": "f", "namespace": "n",
            "tasks": [{"id": "p", "type": "io.kestra.plugin.core.flow.Parallel",
                       "tasks": [{"id": "t", "type": LOG}]}],
            "triggers": [{"id": "s", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "@daily"}],
            "pluginDefaults": [{"type": "io.kestra.plugin.core.log", "values": {"message": "hi"}},
                               {"type": "io.kestra.plugin.core.trigger", "values": {"timezone": "UTC"}}]}
    applied = apply_plugin_defaults(data)
    assert applied["tasks"][0]["tasks"][0]["message"] == "hi"
    assert "message" not in applied["tasks"][0]
    assert applied["triggers"][0]["timezone"] == "UTC"


def test_maps_are_merged_key_by_key() -> None:
    data = flow_with({"id": "t", "type": "io.kestra.plugin.core.http.Request", "uri": "u",
                      "headers": {"Accept": "text/csv"}},
                     pluginDefaults=[{"type": "io.kestra.plugin.core.http",
                                      "values": {"headers": {"Accept": "json", "X-Team": "data"}}}])
    assert apply_plugin_defaults(data)["tasks"][0]["headers"] == {"Accept": "text/csv", "X-Team": "data"}


def test_flow_defaults_win_over_global_ones_and_legacy_task_defaults_apply() -> None:
    data = flow_with({"id": "t", "type": LOG},
                     pluginDefaults=[{"type": LOG, "values": {"message": "flow"}}],
                     taskDefaults=[{"type": LOG, "values": {"level": "ERROR"}}])
    applied = apply_plugin_defaults(data, [{"type": LOG, "values": {"message": "global", "logLevel": "INFO"}}])
    assert applied["tasks"][0] == {"id": "t", "type": LOG, "message": "flow", "level": "ERROR", "logLevel": "INFO"}


def test_defaults_written_with_a_legacy_alias_match_the_canonical_type() -> None:
    data = flow_with({"id": "t", "type": LOG},
                     pluginDefaults=[{"type": "io.kestra.core.tasks.log.Log", "values": {"message": "alias"}}])
    assert apply_plugin_defaults(data, registry=REGISTRY)["tasks"][0]["message"] == "alias"
    assert "message" not in apply_plugin_defaults(data)["tasks"][0]


def test_user_data_is_left_alone_and_the_input_is_not_mutated() -> None:
    variables = {"obj": {"type": "io.kestra.plugin.core.log.Log"}}
    data = flow_with({"id": "t", "type": LOG}, variables=variables,
                     pluginDefaults=[{"type": LOG, "values": {"message": "m"}}])
    applied = apply_plugin_defaults(data)
    assert applied["variables"] == {"obj": {"type": LOG}}
    assert data["tasks"][0] == {"id": "t", "type": LOG}


def test_malformed_defaults_are_ignored_here() -> None:
    data = flow_with({"id": "t", "type": LOG}, pluginDefaults=[{"values": {"message": "m"}}, "oops"])
    assert apply_plugin_defaults(data)["tasks"][0] == {"id": "t", "type": LOG}


def test_deep_merge() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 9}, "e": 2}) == \
        {"a": {"b": 9, "c": 2}, "d": 1, "e": 2}
