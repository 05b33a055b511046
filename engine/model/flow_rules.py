"""L1 pure core: the flow-wide rules of Kestra's ``FlowValidator``, checked on the raw mapping.

They read the raw mapping rather than the parsed flow, so they still report when some task
failed to parse: unique ids, input dependencies, reserved labels, a subflow calling its own
flow, WorkingDirectory children, known worker groups.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.plugins.base import Registry

Loc = tuple[Any, ...]
Problem = tuple[Loc, str]
SUBFLOW_TYPES = ("io.kestra.plugin.core.flow.Subflow", "io.kestra.plugin.core.flow.ForEachItem")
ALLOWED_SYSTEM_LABELS = ("system.readOnly",)
WORKING_DIRECTORY = "io.kestra.plugin.core.flow.WorkingDirectory"
# Kestra 1.0 refuses these flow ids: its API reads them as actions in /executions/{namespace}/{id}.
RESERVED_FLOW_IDS = ("pause", "resume", "force-run", "change-status", "kill", "executions", "search",
                     "source", "disable", "enable")


def format_path(loc: Loc) -> str:
    """``("tasks", 2, "type")`` → ``tasks[2].type``; odd keys are quoted: ``data["a.b"]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).replace("_", "a").replace("-", "a").isalnum():
            text += f".{part}" if text else str(part)
        else:
            text += f'["{part}"]'
    return text


def flow_problems(data: Mapping[str, Any], context: Mapping[str, Any]) -> list[Problem]:
    """Kestra's ``FlowValidator`` rules, each problem with the location it is about."""
    tasks = list(iter_raw_tasks(data))
    return [*_reserved_id(data.get("id")),
            *_duplicate_ids(tasks, "task id", "task ids must be unique across the whole flow"),
            *_duplicate_ids(_entries(data, "inputs"), "input id", "rename one of them"),
            *_duplicate_ids(_entries(data, "outputs"), "output id", "rename one of them"),
            *_duplicate_ids(_entries(data, "triggers"), "trigger id", "rename one of them"),
            *_input_dependencies(data), *_system_labels(data.get("labels")),
            *_self_calls(data, tasks, context.get("registry")),
            *_working_directory_children(tasks, context.get("registry")),
            *_worker_groups(tasks, context.get("worker_groups"))]


def _reserved_id(flow_id: Any) -> list[Problem]:
    if flow_id not in RESERVED_FLOW_IDS:
        return []
    return [(("id",), f"'{flow_id}' is a reserved flow id (Kestra 1.0+ refuses {', '.join(RESERVED_FLOW_IDS)}); "
                      f"rename the flow, e.g. '{flow_id}-flow'")]


def iter_raw_tasks(data: Mapping[str, Any]) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """Every task mapping of a raw flow, with its location, at every nesting level."""
    for key in ("tasks", "errors", "finally", "afterExecution"):
        yield from _tasks_in((key,), data.get(key))
    listeners = data.get("listeners")
    for index, listener in enumerate(listeners if isinstance(listeners, list) else []):
        if isinstance(listener, dict):
            yield from _tasks_in(("listeners", index, "tasks"), listener.get("tasks"))


def _is_task(value: Any) -> bool:
    # Pause ``onResume`` inputs also have an id and a type, but their types have no dot.
    return isinstance(value, dict) and isinstance(value.get("type"), str) and "." in value["type"]


def _tasks_in(loc: Loc, value: Any) -> Iterator[tuple[Loc, dict[str, Any]]]:
    if _is_task(value):
        yield loc, value
        for key, child in value.items():
            if key != "taskRunner":
                yield from _tasks_in(loc + (key,), child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _tasks_in(loc + (index,), item)
    elif isinstance(value, dict) and _is_task(value.get("task")):  # a Dag entry
        yield from _tasks_in(loc + ("task",), value["task"])
    elif isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):  # cases
        for key, child in value.items():
            yield from _tasks_in(loc + (key,), child)


def _entries(data: Mapping[str, Any], key: str) -> list[tuple[Loc, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [((key, i), item) for i, item in enumerate(items) if isinstance(item, dict)]


def _entry_id(entry: Mapping[str, Any]) -> tuple[str, Any]:
    return ("id", entry["id"]) if "id" in entry else ("name", entry.get("name"))


def _duplicate_ids(entries: list[tuple[Loc, dict[str, Any]]], what: str, hint: str) -> list[Problem]:
    first: dict[str, Loc] = {}
    problems: list[Problem] = []
    for loc, entry in entries:
        key, value = _entry_id(entry)
        if not isinstance(value, str):
            continue
        if value in first:
            problems.append((loc + (key,), f"duplicate {what} '{value}' (first used at "
                                           f"{format_path(first[value])}); {hint}"))
        else:
            first[value] = loc + (key,)
    return problems


def _input_dependencies(data: Mapping[str, Any]) -> list[Problem]:
    entries = _entries(data, "inputs")
    known = {name for _, e in entries if isinstance(name := _entry_id(e)[1], str)}
    graph: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for loc, entry in entries:
        depends = entry.get("dependsOn")
        needed = depends.get("inputs") if isinstance(depends, dict) else None
        if not isinstance(needed, list):
            continue
        graph[str(_entry_id(entry)[1])] = [n for n in needed if isinstance(n, str)]
        for index, name in enumerate(needed):
            if isinstance(name, str) and name not in known:  # another type is the model's to report
                problems.append((loc + ("dependsOn", "inputs", index),
                                 f"depends on unknown input '{name}' (declared inputs: "
                                 f"{', '.join(sorted(str(k) for k in known))})"))
    cycle = _find_cycle(graph)
    if cycle:
        where = next((loc for loc, e in entries if _entry_id(e)[1] == cycle[0]), ("inputs",))
        problems.append((where + ("dependsOn",), "inputs depend on each other in a cycle: "
                         + " -> ".join(cycle) + "; remove one of these dependencies"))
    return problems


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = 2
        return None

    for start in graph:
        if state.get(start) is None:
            found = visit(start, [])
            if found:
                return found
    return None


def _system_labels(labels: Any) -> list[Problem]:
    pairs: list[tuple[tuple[Any, ...], Any, Any]]
    if isinstance(labels, dict):
        pairs = [(("labels", key), key, value) for key, value in labels.items()]
    elif isinstance(labels, list):
        pairs = [(("labels", i, "key"), item.get("key"), item.get("value"))
                 for i, item in enumerate(labels) if isinstance(item, dict)]
    else:
        return []
    return [(loc, f"system labels can only be set by Podium itself, offending label: {key}={value} "
                  f"(only {', '.join(ALLOWED_SYSTEM_LABELS)} may be set on a flow)")
            for loc, key, value in pairs
            if isinstance(key, str) and key.startswith("system.") and key not in ALLOWED_SYSTEM_LABELS]


def _self_calls(data: Mapping[str, Any], tasks: list[tuple[Loc, dict[str, Any]]],
                registry: Registry | None) -> list[Problem]:
    problems: list[Problem] = []
    for loc, task in tasks:
        type_name = registry.canonical(task["type"]) if registry is not None else task["type"]
        if type_name in SUBFLOW_TYPES and task.get("namespace") == data.get("namespace") \
                and task.get("flowId") == data.get("id"):
            problems.append((loc + ("flowId",), f"a {type_name.rsplit('.', 1)[1]} task cannot call its "
                             f"own flow ({data.get('namespace')}.{data.get('id')}): it would recurse "
                             "forever; call another flow"))
    return problems


def _working_directory_children(tasks: list[tuple[Loc, dict[str, Any]]],
                                registry: Registry | None) -> list[Problem]:
    """WorkingDirectory runs its children on one worker, so they must all be runnable tasks."""
    if registry is None:
        return []
    problems: list[Problem] = []
    for loc, task in tasks:
        children = task.get("tasks")
        if registry.canonical(task["type"]) != WORKING_DIRECTORY or not isinstance(children, list):
            continue
        for index, child in enumerate(children):
            spec = registry.find(child.get("type")) if _is_task(child) else None
            if spec is not None and spec.kind.value != "runnable":
                problems.append((loc + ("tasks", index, "type"), "only runnable tasks are allowed as "
                                 f"children of a WorkingDirectory task; {spec.type} is {spec.kind.value}"))
    return problems


def _worker_groups(tasks: list[tuple[Loc, dict[str, Any]]], known: Any) -> list[Problem]:
    """A task routed to a worker group nobody serves would wait forever; refuse it up front.

    Only checked when the caller says which groups exist (``context["worker_groups"]``).
    """
    if known is None:
        return []
    problems: list[Problem] = []
    for loc, task in tasks:
        group = task.get("workerGroup")
        key = group.get("key") if isinstance(group, dict) else None
        if isinstance(key, str) and "{{" not in key and key not in known:
            served = ", ".join(sorted(known)) or "none"
            problems.append((loc + ("workerGroup", "key"), f"unknown worker group '{key}' (configured "
                             f"worker groups: {served}); add it to the worker queues (setting worker.queues, "
                             f"env PODIUM_WORKER__QUEUES) and run a worker for it, or remove workerGroup"))
    return problems
