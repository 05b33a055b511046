"""L1 pure core: an index of a flow's task tree (which task is where, under whom, of which kind).

The executor looks tasks up by id (ids are unique across all nesting levels), walks up to the
enclosing flowable tasks (retry precedence, errors), and reads each flowable's child lists.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from engine.executor import resolve as rs
from engine.model.flow import Flow
from engine.model.task import TaskOptions
from engine.plugins.base import PluginKind, PluginSpec, Registry
from engine.plugins.core.flow_subflow import ForEachItem, internal_spec

# Flow-level branches, in the order they run.
FLOW_BRANCHES = ("tasks", "errors", "finally", "afterExecution")


@dataclass(frozen=True)
class Node:
    task: TaskOptions          # the parsed options (a subclass, by the task's type)
    spec: PluginSpec | None    # None for a type the registry does not know (treated as runnable)
    parent_id: str | None      # the enclosing task's id; None at flow level
    branch: str                # "tasks", "errors", "finally", "then", "cases.X", ...

    @property
    def kind(self) -> PluginKind:
        return self.spec.kind if self.spec is not None else PluginKind.RUNNABLE


def child_lists(task: TaskOptions) -> Iterator[tuple[str, list[TaskOptions]]]:
    """Every (branch name, task list) a task holds: tasks, then, else, cases.X, defaults, errors, finally.

    Dag tasks are unwrapped from their ``{task, dependsOn}`` entries.
    """
    for name in type(task).model_fields:
        value = getattr(task, name)
        branch = "finally" if name == "finally_" else "else" if name == "else_" else name
        if isinstance(value, list) and value and all(hasattr(v, "depends_on") for v in value):
            yield branch, [v.task for v in value]
        elif isinstance(value, list) and value and all(isinstance(v, TaskOptions) for v in value):
            yield branch, value
        elif isinstance(value, dict) and value and all(
                isinstance(v, list) and all(isinstance(t, TaskOptions) for t in v) for v in value.values()):
            for key, tasks in value.items():
                yield f"{branch}.{key}", tasks
    if isinstance(task, ForEachItem):
        yield "tasks", task.tasks  # its internal tasks, a property rather than a field


def flow_lists(flow: Flow) -> dict[str, list[TaskOptions]]:
    return {"tasks": list(flow.tasks or ()), "errors": list(flow.errors or ()), "finally": list(flow.finally_ or ()),
            "afterExecution": list(flow.after_execution or ())}


class FlowTree:
    """Every task of a flow by id, with its parent, branch and plugin spec."""

    def __init__(self, flow: Flow, registry: Registry) -> None:
        self.flow = flow
        self.registry = registry
        self._nodes: dict[str, Node] = {}
        for branch, tasks in flow_lists(flow).items():
            self._index(tasks, None, branch)

    def _index(self, tasks: list[TaskOptions], parent_id: str | None, branch: str) -> None:
        for task in tasks:
            spec = self.registry.find(task.type) or internal_spec(task.type)
            self._nodes[task.id] = Node(task, spec, parent_id, branch)
            for child_branch, children in child_lists(task):
                self._index(children, task.id, child_branch)

    @cached_property
    def root_branches(self) -> rs.Branches:
        """The flow's own tasks, errors and finally, disabled tasks left out."""
        return rs.owned_branches(self.flow.tasks, self.flow)

    def node(self, task_id: str) -> Node:
        try:
            return self._nodes[task_id]
        except KeyError:
            raise KeyError(f"flow {self.flow.namespace}.{self.flow.id} has no task '{task_id}'") from None

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._nodes

    def task(self, task_id: str) -> TaskOptions:
        return self.node(task_id).task

    def kind(self, task_id: str) -> PluginKind:
        return self.node(task_id).kind

    def ancestors(self, task_id: str) -> list[Node]:
        """The enclosing tasks, nearest first."""
        found: list[Node] = []
        parent = self.node(task_id).parent_id
        while parent is not None:
            node = self._nodes[parent]
            found.append(node)
            parent = node.parent_id
        return found

    def is_in_working_directory(self, task_id: str) -> bool:
        return any(n.task.type.endswith(".flow.WorkingDirectory") for n in self.ancestors(task_id))


class _TreeMemo:
    """The FlowTree of the last flows seen, by identity: building one walks every task, and the
    executor needs it on every event of every execution of a flow (the catalog hands out one
    parsed flow object per revision). A memo of a pure function, so the core stays pure."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._trees: dict[int, tuple[weakref.ref[Flow], Registry, FlowTree]] = {}

    def get(self, flow: Flow, registry: Registry) -> FlowTree:
        entry = self._trees.get(id(flow))
        if entry is not None and entry[0]() is flow and entry[1] is registry:
            return entry[2]
        tree = FlowTree(flow, registry)
        if len(self._trees) >= self.capacity:
            self._trees.clear()
        self._trees[id(flow)] = (weakref.ref(flow), registry, tree)
        return tree


flow_tree = _TreeMemo().get
