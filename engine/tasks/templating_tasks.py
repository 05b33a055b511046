"""L2 adapter: runs ``templating.TemplatedTask``: render the spec, parse it as a task, run it.

The parsed task is found through the registry the worker gave the context (never by importing a
name from the YAML), must be runnable, and inherits this task's id unless the spec sets one.
"""
from __future__ import annotations

import yaml
from pydantic import ValidationError

from engine import safe_yaml
from engine.plugins.base import PluginKind, UnknownType
from engine.plugins.core.templating import TemplatedTaskOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed, TaskResult
from engine.tasks.props import as_text
from engine.tasks.runner import NOT_IMPLEMENTED, load_implementation

SELF_TYPE = "io.kestra.plugin.core.templating.TemplatedTask"


def run_templated_task(options: TemplatedTaskOptions, ctx: RunContext) -> TaskResult:
    if ctx.registry is None:
        raise TaskFailed("templating.TemplatedTask needs the plugin registry, which this process did not provide")
    text = as_text(ctx, options.spec, "spec")
    try:
        spec_map = safe_yaml.load(text)
    except yaml.YAMLError as error:
        raise TaskFailed(f"the rendered spec is not valid YAML: {safe_yaml.one_line(error, text)}") from None
    if not isinstance(spec_map, dict) or not isinstance(spec_map.get("type"), str):
        raise TaskFailed("the rendered spec must be a YAML mapping with a 'type'")
    spec_map.setdefault("id", options.id)
    found = ctx.registry.find(spec_map["type"])
    if found is not None and found.kind is not PluginKind.RUNNABLE:
        raise TaskFailed(f"The templated task must be a runnable task; '{found.type}' is a {found.kind.value} task")
    try:
        plugin = ctx.registry.resolve(spec_map["type"], (PluginKind.RUNNABLE,))
    except UnknownType as error:
        raise TaskFailed(f"templated task: {error}") from None
    if plugin.type == SELF_TYPE:
        raise TaskFailed(f"The templated task cannot be of type '{SELF_TYPE}'")
    if not plugin.implemented or plugin.implementation is None:
        raise TaskFailed(NOT_IMPLEMENTED.format(type=plugin.type))
    try:
        inner = plugin.options.model_validate({**spec_map, "type": plugin.type},
                                              context={"registry": ctx.registry})
    except ValidationError as error:
        raise TaskFailed(f"the rendered spec is not a valid {plugin.type}: {_problems(error)}") from None
    return load_implementation(plugin.implementation)(inner, ctx)


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors())
