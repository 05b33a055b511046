"""L2 adapter: which internal-storage files an execution may read (Kestra's rule, Podium's namespaces).

Kestra's file functions (``AbstractFileFunction``) let an execution read a ``kestra://`` file that
lies in

- its own folder ``/{ns}/{flow}/executions/{id}/`` or its namespace's files ``/{ns}/_files/``;
- the folder or the namespace files of the execution that started it, named by its ``trigger``
  variables (the parent of a Subflow or ForEachItem child, the upstream execution of a Flow
  trigger), and the folders of the executions it started (its Subflow and ForEachItem children,
  whose ``parentId`` the database holds: a parent reads the files its subflows return);
- the task outputs ``/{ns}/{flow}/executions/{id}/tasks/...`` of any execution of a namespace it is
  allowed to read. Kestra EE allows the namespaces each namespace lists (OSS: all of them); Podium
  has no namespace settings and allows the reader's namespace and its parent namespaces
  (``company`` for ``company.team``), the ones ``kv()`` looks up.

A replay also reads the folder of the execution it copies (its ``originalId``), whose inputs it
keeps. Deleting is narrower: the execution's own folder and its own namespace (:meth:`ReaderScope.for_deleting`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.model.execution import Execution

#: An execution by id (without its task runs), or None: the database's word on who started whom.
FindExecution = Callable[[str], Execution | None]
FILES_FOLDER = "_files"
# /{ns}/{flow}/executions/{id}/tasks/{taskId}/{taskRunId}/{name}: seven segments after the namespace.
_TASK_FILE_DEPTH = 7


@dataclass(frozen=True)
class ExecutionRef:
    namespace: str
    flow_id: str
    execution_id: str

    @property
    def folder(self) -> tuple[str, ...]:
        """The segments of ``/{ns}/{flow}/executions/{id}``."""
        return (*self.namespace.split("."), self.flow_id, "executions", self.execution_id)

    @classmethod
    def from_trigger(cls, variables: Mapping[str, Any] | None) -> ExecutionRef | None:
        """The execution that started this one, from its ``trigger`` variables; None if they do not
        name one (a Schedule, a manual start)."""
        if not variables:
            return None
        namespace, flow_id, execution_id = (variables.get(k) for k in ("namespace", "flowId", "executionId"))
        if isinstance(namespace, str) and isinstance(flow_id, str) and isinstance(execution_id, str) \
                and namespace and flow_id and execution_id:
            return cls(namespace, flow_id, execution_id)
        return None


@dataclass(frozen=True)
class ReaderScope:
    """Who reads: the namespace of the flow, the executions whose folders it owns, the one that
    started it. ``namespace`` None: no flow is known (a trigger's condition), nothing is readable."""

    namespace: str | None
    executions: tuple[ExecutionRef, ...] = ()
    parent: ExecutionRef | None = None
    parent_namespaces: bool = True

    @classmethod
    def of_execution(cls, namespace: str, flow_id: str, execution_id: str, *, original_id: str | None = None,
                     trigger: Mapping[str, Any] | None = None) -> ReaderScope:
        ids = dict.fromkeys([execution_id, original_id or execution_id])
        return cls(namespace, tuple(ExecutionRef(namespace, flow_id, i) for i in ids),
                   ExecutionRef.from_trigger(trigger))

    @classmethod
    def of(cls, execution: Execution) -> ReaderScope:
        trigger = execution.trigger.variables if execution.trigger is not None else None
        return cls.of_execution(execution.namespace, execution.flow_id, execution.id,
                                original_id=execution.original_id, trigger=trigger)

    def for_deleting(self) -> ReaderScope:
        """The files this reader may delete: its own execution's and its own namespace's."""
        return ReaderScope(self.namespace, self.executions[:1], None, parent_namespaces=False)

    def namespaces(self) -> list[str]:
        """The namespaces whose files this reader may read: its own, then its parents."""
        if self.namespace is None:
            return []
        parts = self.namespace.split(".")
        depth = len(parts) if self.parent_namespaces else 1
        return [".".join(parts[:len(parts) - i]) for i in range(depth)]

    def may_read_namespace(self, namespace: str) -> bool:
        return namespace in self.namespaces()

    def rule(self) -> str:
        """What this reader may read, for messages."""
        return (f"a flow of '{self.namespace}' reads the files of its own execution, of the execution that "
                f"started it and of those it started, and the task outputs and namespace files of "
                f"{self.describe_namespaces()}")

    def describe_namespaces(self) -> str:
        found = self.namespaces()
        return f"'{found[0]}'" + (f" and its parent namespaces ({', '.join(found[1:])})" if len(found) > 1 else "")


def refusal(parts: Sequence[str], scope: ReaderScope, find: FindExecution | None = None) -> str | None:
    """None when ``scope`` may read the file whose decoded ``kestra:///`` segments are ``parts``;
    otherwise what the file is, for the message (:meth:`ReaderScope.rule` says what is readable).
    ``find`` looks up an execution the reader may have started (none: children are not readable)."""
    if scope.namespace is None:
        return "no flow is known here, so no internal-storage file can be read"
    if _allowed(tuple(parts), scope):
        return None
    owner = _owner(parts)
    if owner is None:
        return "it is neither an execution's file nor a namespace file"
    namespace, execution_id = owner
    if execution_id is not None and find is not None and _started_by(parts, scope, find(execution_id)):
        return None
    if not scope.may_read_namespace(namespace):
        return f"it belongs to namespace '{namespace}'"
    return f"it belongs to another execution ({execution_id})"


def _allowed(parts: tuple[str, ...], scope: ReaderScope) -> bool:
    for ref in (*scope.executions, scope.parent):
        if ref is not None and _inside(parts, ref.folder):
            return True
    if scope.parent is not None and _inside(parts, (*scope.parent.namespace.split("."), FILES_FOLDER)):
        return True
    for namespace in scope.namespaces():
        base = tuple(namespace.split("."))
        if not _inside(parts, base):
            continue
        rest = parts[len(base):]
        if rest[0] == FILES_FOLDER and len(rest) >= 2:
            return True
        if len(rest) >= _TASK_FILE_DEPTH and rest[1] == "executions" and rest[3] == "tasks":
            return True
    return False


def _started_by(parts: Sequence[str], scope: ReaderScope, child: Execution | None) -> bool:
    """Whether ``parts`` lies in the folder of ``child``, an execution the reader started."""
    if child is None or child.parent_id not in {ref.execution_id for ref in scope.executions}:
        return False
    return _inside(tuple(parts), ExecutionRef(child.namespace, child.flow_id, child.id).folder)


def _inside(parts: tuple[str, ...], folder: tuple[str, ...]) -> bool:
    """Whether ``parts`` names something strictly inside ``folder``."""
    return len(parts) > len(folder) and parts[:len(folder)] == folder


def _owner(parts: Sequence[str]) -> tuple[str, str | None] | None:
    """(namespace, execution id or None for a namespace file) of a file, for messages."""
    if FILES_FOLDER in parts[1:]:
        return ".".join(parts[:parts.index(FILES_FOLDER, 1)]), None
    for index in range(2, len(parts) - 1):
        if parts[index] == "executions":
            return ".".join(parts[:index - 1]), parts[index + 1]
    return None
