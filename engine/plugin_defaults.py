"""L1 pure core: plugin defaults, applied to a raw flow mapping before it is validated.

Kestra's ``pluginDefaults`` (and the deprecated ``taskDefaults``) give default property values to
every task, trigger, condition or task runner whose ``type`` equals, or starts with, the default's
``type``. A default that is not ``forced`` only fills what the flow leaves out (maps are merged
key by key, the flow's values win); a ``forced`` one wins over the flow. Flow-level defaults take
precedence over the global ones passed in (Kestra's ``kestra.plugins.defaults``).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.plugins.base import Registry

# Top-level keys whose content is user data, never a plugin object.
_DATA_KEYS = frozenset({"inputs", "outputs", "variables", "labels", "pluginDefaults", "taskDefaults",
                        "sla", "retry", "concurrency", "checks", "id", "namespace", "description"})


def apply_plugin_defaults(flow: Mapping[str, Any], global_defaults: Sequence[Mapping[str, Any]] = (),
                          registry: Registry | None = None) -> dict[str, Any]:
    """A copy of ``flow`` with its own and the global plugin defaults applied.

    Args:
        flow: the raw flow mapping, as read from YAML.
        global_defaults: defaults from the configuration, each ``{type, forced, values}``.
        registry: when given, a default written with an alias type also matches the canonical
            type, and the other way round.
    """
    defaults = [*_usable(flow.get("pluginDefaults")), *_usable(flow.get("taskDefaults")),
                *_usable(global_defaults)]
    if not defaults:
        return dict(flow)
    result = dict(flow)
    for key, value in flow.items():
        if key not in _DATA_KEYS:
            result[key] = _apply_within(value, defaults, registry)
    return result


def _usable(defaults: Any) -> list[Mapping[str, Any]]:
    # Malformed entries are reported by the flow model; here they are just not applied.
    if not isinstance(defaults, (list, tuple)):
        return []
    return [d for d in defaults if isinstance(d, Mapping) and isinstance(d.get("type"), str)
            and isinstance(d.get("values", {}), Mapping)]


def _apply_within(value: Any, defaults: list[Mapping[str, Any]], registry: Registry | None) -> Any:
    if isinstance(value, list):
        return [_apply_within(item, defaults, registry) for item in value]
    if not isinstance(value, dict):
        return value
    applied = {k: _apply_within(v, defaults, registry) for k, v in value.items()}
    type_name = applied.get("type")
    if isinstance(type_name, str) and "." in type_name:
        applied = apply_to_object(applied, defaults, registry)
    return applied


def apply_to_object(obj: Mapping[str, Any], defaults: Iterable[Mapping[str, Any]],
                    registry: Registry | None = None) -> dict[str, Any]:
    """One task/trigger/condition mapping with the matching defaults applied.

    ``defaults`` are in precedence order: for non-forced values the first match wins, and forced
    values of an earlier default win over those of a later one.
    """
    names = _names(str(obj["type"]), registry)
    matching = [d for d in defaults if any(_matches(d["type"], n, registry) for n in names)]
    result = dict(obj)
    for default in [d for d in matching if not d.get("forced")]:
        result = deep_merge(dict(default.get("values") or {}), result)
    for default in reversed([d for d in matching if d.get("forced")]):
        result = deep_merge(result, dict(default.get("values") or {}))
    result["type"] = obj["type"]  # a default never changes what the object is
    return result


def _names(type_name: str, registry: Registry | None) -> set[str]:
    names = {type_name}
    if registry is not None:
        spec = registry.find(type_name)
        if spec is not None:
            names.update(spec.names)
    return names


def _matches(default_type: str, type_name: str, registry: Registry | None) -> bool:
    if type_name == default_type or type_name.startswith(default_type):
        return True
    return registry is not None and registry.canonical(default_type) == type_name


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``override``; nested mappings are merged, anything else replaced."""
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
