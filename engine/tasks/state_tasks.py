"""L2 adapter: runs the legacy ``state.Set/Get/Delete`` tasks through the run context's state store."""
from __future__ import annotations

from typing import Any

from engine.plugins.core.state import BaseStateOptions, StateDeleteOptions, StateGetOptions, StateSetOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_text
from engine.tasks.protocols import StateKey


def run_set(options: StateSetOptions, ctx: RunContext) -> dict[str, Any]:
    key = _key(options, ctx)
    # Values are rendered as text, as Kestra's render(Map): '{{ 1 + 1 }}' is stored as "2".
    merged = merge(ctx.state_store.get(key) or {}, ctx.render(options.data or {}))
    uri = ctx.state_store.put(key, merged)
    return {"key": uri, "count": len(merged)}


def run_get(options: StateGetOptions, ctx: RunContext) -> dict[str, Any]:
    key = _key(options, ctx)
    data = ctx.state_store.get(key)
    if data is None:
        if as_bool(ctx, options.error_on_missing, "errorOnMissing"):
            raise TaskFailed(f"state '{key.name}' does not exist and `errorOnMissing` is set to true")
        data = {}
    return {"data": data, "count": len(data)}


def run_delete(options: StateDeleteOptions, ctx: RunContext) -> dict[str, Any]:
    key = _key(options, ctx)
    deleted = ctx.state_store.delete(key)
    if not deleted and as_bool(ctx, options.error_on_missing, "errorOnMissing"):
        raise TaskFailed(f"state '{key.name}' does not exist and `errorOnMissing` is set to true")
    return {"deleted": deleted}


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Kestra's MapUtils.merge: nested maps are merged key by key, anything else is replaced."""
    result = dict(current)
    for name, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(name), dict):
            result[name] = merge(result[name], value)
        else:
            result[name] = value
    return result


def _key(options: BaseStateOptions, ctx: RunContext) -> StateKey:
    shared = as_bool(ctx, options.namespace, "namespace")
    per_value = as_bool(ctx, options.taskrun_value, "taskrunValue")
    return StateKey(namespace=ctx.namespace, flow_id=None if shared else ctx.flow_id,
                    name=as_text(ctx, options.name, "name"),
                    value=ctx.identity.value if per_value else None)
