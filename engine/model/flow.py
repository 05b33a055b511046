"""L1 pure core: the flow, Kestra's ``Flow`` (§1 of the feature catalog), as a strict model.

Parse with ``Flow.model_validate(data, context={"registry": registry})``: tasks, triggers and
conditions are parsed by their plugin's options model, found through the registry. Besides each
field's own constraints, the flow-wide rules of Kestra's ``FlowValidator`` (unique ids, input
dependencies, reserved labels, a subflow calling its own flow) are checked on the raw mapping
too (see "Flow-wide rules" below), so that every problem comes back in one ``ValidationError``,
each with its location. ``engine.loader`` reads YAML with line numbers; this module does no I/O.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Iterator, Mapping

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.inputs import as_list
from engine.model.inputs import INPUT_TYPES, OUTPUT_TYPES, Input, InputBase, invalid_type_message
from engine.model.task import Duration, Retry, TaskOptions, WorkerGroup
from engine.plugins.base import Condition, Options, TaskList, Trigger

FLOW_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Label(Options):
    key: str = Field(min_length=1)
    value: str

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_to_text(cls, value: Any) -> Any:
        # YAML reads `priority: 1` as a number; Kestra labels are text.
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, (int, float)) else value


def labels_as_list(value: Any) -> Any:
    """Labels written as a map (``{team: data}``) become Kestra's list of ``{key, value}``."""
    if isinstance(value, dict):
        return [{"key": k, "value": v} for k, v in value.items()]
    return value


class Output(Options):
    """A flow output, rendered when the execution ends and parsed by its type."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")
    type: str
    value: Any = Field(description="Expression (or structure of expressions) giving the value.")
    description: str | None = None
    display_name: str | None = Field(None, max_length=64)
    required: bool | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in OUTPUT_TYPES:
            raise ValueError(invalid_type_message(value))
        return value

    def parse(self, value: Any) -> Any:
        """The rendered value parsed by the output's type; raises ValueError if it does not fit."""
        if self.type == "ARRAY":  # an output declares no item type: items are kept as rendered
            return as_list(value)
        return INPUT_TYPES[self.type].model_construct(id=self.id, type=self.type).parse(value)




class PluginDefault(Options):
    type: str = Field(min_length=1, description="Type name, or a prefix of type names.")
    forced: bool = Field(False, description="Override the flow's own values instead of filling gaps.")
    values: dict[str, Any] = Field(default_factory=dict)


class ConcurrencyBehavior(str, Enum):
    QUEUE = "QUEUE"
    CANCEL = "CANCEL"
    FAIL = "FAIL"


class Concurrency(Options):
    limit: int = Field(gt=0, description="Maximum number of running executions of the flow.")
    behavior: ConcurrencyBehavior = ConcurrencyBehavior.QUEUE


class SlaType(str, Enum):
    MAX_DURATION = "MAX_DURATION"
    EXECUTION_ASSERTION = "EXECUTION_ASSERTION"


class SlaBehavior(str, Enum):
    FAIL = "FAIL"
    CANCEL = "CANCEL"
    NONE = "NONE"


class Sla(Options):
    id: str
    type: SlaType
    behavior: SlaBehavior = SlaBehavior.FAIL
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    duration: Duration | None = Field(None, description="MAX_DURATION: the longest an execution may run.")
    assert_: str | None = Field(None, description="EXECUTION_ASSERTION: expression that must stay true.")

    @model_validator(mode="after")
    def _has_its_property(self) -> "Sla":
        needed = "duration" if self.type is SlaType.MAX_DURATION else "assert_"
        if getattr(self, needed) is None:
            name = needed.rstrip("_")
            raise ValueError(f"an SLA of type {self.type.value} needs '{name}'")
        return self


class CheckStyle(str, Enum):
    ERROR = "ERROR"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    INFO = "INFO"


class CheckBehavior(str, Enum):
    BLOCK_EXECUTION = "BLOCK_EXECUTION"
    FAIL_EXECUTION = "FAIL_EXECUTION"
    CREATE_EXECUTION = "CREATE_EXECUTION"


class Check(Options):
    """A pre-execution check on the inputs (Kestra 1.2)."""

    condition: str
    message: str
    style: CheckStyle = CheckStyle.INFO
    behavior: CheckBehavior = CheckBehavior.BLOCK_EXECUTION


class Listener(Options):
    """Deprecated: tasks run after the execution ends, when the conditions match."""

    description: str | None = None
    conditions: list[Condition] | None = None
    tasks: TaskList = Field(min_length=1)


class Flow(Options):
    """A flow as written in YAML, every task, trigger and condition parsed by its plugin model."""

    id: str = Field(pattern=FLOW_ID_PATTERN, min_length=1, max_length=100)
    namespace: str = Field(pattern=NAMESPACE_PATTERN, min_length=1, max_length=150)
    revision: int | None = Field(None, ge=1)
    description: str | None = None
    labels: list[Label] = Field(default_factory=list)
    inputs: list[Input] | None = None
    outputs: list[Output] | None = None
    variables: dict[str, Any] | None = None
    tasks: TaskList = Field(min_length=1)
    errors: TaskList | None = None
    finally_: TaskList | None = None
    after_execution: TaskList | None = None
    listeners: list[Listener] | None = Field(None, json_schema_extra={"deprecated": True})
    triggers: list[Trigger] | None = None
    plugin_defaults: list[PluginDefault] | None = None
    task_defaults: list[PluginDefault] | None = Field(None, json_schema_extra={"deprecated": True})
    disabled: bool = False
    deleted: bool = False
    concurrency: Concurrency | None = None
    retry: Retry | None = None
    sla: list[Sla] | None = None
    checks: list[Check] | None = None
    worker_group: WorkerGroup | None = None
    tenant_id: str | None = Field(None, pattern=TENANT_PATTERN)

    _labels_from_map = field_validator("labels", mode="before")(classmethod(
        lambda cls, value: labels_as_list(value) if value is not None else []))

    @model_validator(mode="wrap")
    @classmethod
    def _flow_rules(cls, data: Any, handler: Any, info: ValidationInfo) -> "Flow":
        problems = flow_problems(data, info.context or {}) if isinstance(data, dict) else []
        try:
            flow = handler(data)
        except ValidationError as err:
            raise _merged(cls.__name__, err.errors(), problems) from None
        if problems:
            raise _merged(cls.__name__, [], problems)
        return flow

    @property
    def label_map(self) -> dict[str, str]:
        """Labels as a mapping (the last one wins when a key repeats)."""
        return {label.key: label.value for label in self.labels}

    @property
    def input_map(self) -> dict[str, InputBase]:
        return {i.id: i for i in self.inputs or []}

    def all_tasks(self) -> list[TaskOptions]:
        """Every task at every nesting level: tasks, errors, finally, afterExecution, listeners."""
        roots: list[Any] = [self.tasks, self.errors, self.finally_, self.after_execution,
                            [listener.tasks for listener in self.listeners or []]]
        return list(_walk_tasks(roots))

    def find_task(self, task_id: str) -> TaskOptions | None:
        return next((t for t in self.all_tasks() if t.id == task_id), None)


def _walk_tasks(value: Any) -> Iterator[TaskOptions]:
    """Tasks found in ``value``: lists, mappings (Switch cases) and entries (Dag ``task``)."""
    if isinstance(value, TaskOptions):
        yield value
        for name in type(value).model_fields:
            yield from _walk_tasks(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_tasks(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_tasks(item)
    elif isinstance(value, Options) and not isinstance(value, InputBase):
        for name in type(value).model_fields:
            yield from _walk_tasks(getattr(value, name))


def _merged(title: str, errors: list[Any], problems: list[tuple[tuple[Any, ...], str]]) -> ValidationError:
    """One ValidationError holding pydantic's errors and the flow rules' problems."""
    details = [_detail(e) for e in errors]
    details += [InitErrorDetails(type=PydanticCustomError("flow_rule", message), loc=loc, input=None)
                for loc, message in problems]
    return ValidationError.from_exception_data(title, details)


def _detail(error: Any) -> InitErrorDetails:
    detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error.get("input"))
    if "ctx" in error:
        detail["ctx"] = error["ctx"]
    try:  # pydantic's own error types keep their context; custom ones keep their message
        ValidationError.from_exception_data("probe", [detail])
    except (KeyError, TypeError, ValueError):
        return InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"]),
                                loc=error["loc"], input=error.get("input"))
    return detail


# ----------------------------------------------------------------------------- flow-wide rules
# They read the raw mapping, so they still report when some task failed to parse.

Loc = tuple[Any, ...]
Problem = tuple[Loc, str]
SUBFLOW_TYPES = ("io.kestra.plugin.core.flow.Subflow", "io.kestra.plugin.core.flow.ForEachItem")
ALLOWED_SYSTEM_LABELS = ("system.readOnly",)
WORKING_DIRECTORY = "io.kestra.plugin.core.flow.WorkingDirectory"


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
    return [*_duplicate_ids(tasks, "task id", "task ids must be unique across the whole flow"),
            *_duplicate_ids(_entries(data, "inputs"), "input id", "rename one of them"),
            *_duplicate_ids(_entries(data, "outputs"), "output id", "rename one of them"),
            *_duplicate_ids(_entries(data, "triggers"), "trigger id", "rename one of them"),
            *_input_dependencies(data), *_system_labels(data.get("labels")),
            *_self_calls(data, tasks, context.get("registry")),
            *_working_directory_children(tasks, context.get("registry")),
            *_worker_groups(tasks, context.get("worker_groups"))]


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
    known = {_entry_id(e)[1] for _, e in entries}
    graph: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for loc, entry in entries:
        depends = entry.get("dependsOn")
        needed = depends.get("inputs") if isinstance(depends, dict) else None
        if not isinstance(needed, list):
            continue
        graph[str(_entry_id(entry)[1])] = [str(n) for n in needed]
        for index, name in enumerate(needed):
            if name not in known:
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
                registry: Any) -> list[Problem]:
    problems: list[Problem] = []
    for loc, task in tasks:
        type_name = registry.canonical(task["type"]) if registry is not None else task["type"]
        if type_name in SUBFLOW_TYPES and task.get("namespace") == data.get("namespace") \
                and task.get("flowId") == data.get("id"):
            problems.append((loc + ("flowId",), f"a {type_name.rsplit('.', 1)[1]} task cannot call its "
                             f"own flow ({data.get('namespace')}.{data.get('id')}): it would recurse "
                             "forever; call another flow"))
    return problems


def _working_directory_children(tasks: list[tuple[Loc, dict[str, Any]]], registry: Any) -> list[Problem]:
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
