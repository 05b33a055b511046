"""Tasks of a valid flow that cannot run in this installation, as located problems.

``podium flow validate`` prints them as warnings (the flow is valid: another installation may run
it), ``podium run`` refuses the flow with the same lines before anything starts. Finding them is a
walk of the parsed flow (``engine.plugins.availability``); only when one is found is the source
parsed again, to say where each task is written.
"""
from __future__ import annotations

from typing import Any

from engine.loader import YamlDocument, parse_yaml
from engine.model.flow import Flow
from engine.model.flow_rules import format_path, iter_raw_tasks
from engine.plugins.availability import unrunnable_tasks
from engine.plugins.base import Registry
from engine.validation import FlowValidationError, Position, Problem


def unrunnable_problems(flow: Flow, registry: Registry, source: str, path: str) -> list[Problem]:
    """One problem per task of ``flow`` (written in ``source``) whose type cannot run here."""
    found = unrunnable_tasks(flow, registry)
    if not found:
        return []
    located = _task_locations(flow, source, path)
    problems: list[Problem] = []
    for item in found:
        where = located.get(item.task_id)
        field = (*where[0], "taskRunner" if item.runner else "type") if where else ()
        position = where[1].locate(field) if where else Position(1, 1)
        problems.append(Problem(path, position, format_path(field) or f"task '{item.task_id}'", item.message))
    return problems


def _task_locations(flow: Flow, source: str, path: str) -> dict[str, tuple[tuple[Any, ...], YamlDocument]]:
    """Task id -> (its location in the flow's YAML document, that document)."""
    try:
        documents = parse_yaml(source, path)
    except FlowValidationError:
        return {}
    for document in documents:
        data = document.data
        if isinstance(data, dict) and data.get("id") == flow.id and data.get("namespace") == flow.namespace:
            return {str(task.get("id")): (loc, document) for loc, task in iter_raw_tasks(data)}
    return {}
