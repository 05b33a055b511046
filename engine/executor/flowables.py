"""L1 pure core: how each flowable task type picks its children, its next task runs and its end.

One small function per concern, dispatched on the task's canonical type name. Errors and
finally branches always run sequentially, whatever the owner (Kestra's ``FlowableUtils``).
"""
from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from typing import Any, cast

from engine.executor import resolve as rs
from engine.executor.resolve import Branches, Resolved
from engine.executor.step_state import Work
from engine.model.execution import TaskRun
from engine.model.task import TaskOptions
from engine.plugins.core.flow import Dag, If, Parallel, Switch
from engine.plugins.core.flow_each import EachParallel, EachSequential, ForEach
from engine.state import State
from engine.templating import is_template
from engine.templating.truth import is_truthy

# The iteration tasks: ForEach reads its ``values``, the deprecated Each* their ``value``.
EachTask = ForEach | EachSequential | EachParallel
_EachByValue = EachSequential | EachParallel

FLOW = "io.kestra.plugin.core.flow."


class FlowableError(Exception):
    """A flowable task that cannot be resolved (bad values, condition that fails to render)."""


def short_type(task: TaskOptions) -> str:
    """The name of a core flow type without its package (``If``); any other type in full."""
    return str(task.type).rsplit(".", 1)[-1] if str(task.type).startswith(FLOW) else str(task.type)


# -- children -------------------------------------------------------------------------------
def branches_of(work: Work, task: TaskOptions, run: TaskRun) -> Branches:
    # short_type names the options model the registry parsed the task with: each cast is that model.
    name = short_type(task)
    if name == "If":
        if_task = cast(If, task)
        chosen = if_task.then if run.outputs.get("evaluationResult") else (if_task.else_ or [])
        return rs.owned_branches(chosen, task)
    if name == "Switch":
        switch = cast(Switch, task)
        if run.outputs.get("defaults"):
            return rs.owned_branches(switch.defaults or [], task)
        return rs.owned_branches((switch.cases or {}).get(str(run.outputs.get("value")), []), task)
    if name in ("ForEach", "EachSequential", "EachParallel"):
        return _EACH_BRANCHES.get(work, cast(EachTask, task), run)
    if name == "Dag":
        return rs.owned_branches([entry.task for entry in cast(Dag, task).tasks], task)
    return rs.owned_branches(getattr(task, "tasks", None) or [], task)


def nexts_of(work: Work, task: TaskOptions, run: TaskRun, branches: Branches,
             runs: list[TaskRun]) -> list[Resolved]:
    branch, current = rs.current_branch(branches, runs)
    if branch != "tasks":
        return rs.sequential_nexts(current, runs)
    name = short_type(task)
    if name == "Parallel":
        return rs.parallel_nexts(current, runs, cast(Parallel, task).concurrent)
    if name == "EachParallel":
        return rs.parallel_nexts(current, runs, cast(EachParallel, task).concurrent)
    if name == "ForEach":
        return rs.grouped_nexts(current, runs, cast(ForEach, task).concurrency_limit)
    if name == "Dag":
        dag = cast(Dag, task)
        deps = {entry.task.id: list(entry.depends_on or ()) for entry in dag.tasks}
        return rs.parallel_nexts(current, runs, dag.concurrent, rs.dag_ready(deps, runs))
    return rs.sequential_nexts(current, runs)


def state_of(task: TaskOptions, branches: Branches, runs: list[TaskRun]) -> State | None:
    allow_failure = bool(task.allow_failure) or short_type(task) == "AllowFailure"
    return rs.resolve_state(branches, runs, allow_failure=allow_failure, allow_warning=bool(task.allow_warning))


# -- iteration values -----------------------------------------------------------------------
class _EachBranchesMemo:
    """The branches of a ForEach by (task, rendered values): resolving 10,000 values (render,
    deduplicate, one Resolved per value and child) on every event of a wide ForEach would make
    each event cost O(N). A memo of a pure function of the task and its rendered ``values`` text;
    values given as a list are memoized only when none of them is an expression."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: dict[tuple[int, str | None], tuple[weakref.ref[EachTask], Branches]] = {}

    def get(self, work: Work, task: EachTask, run: TaskRun) -> Branches:
        raw = _raw_values(task)
        key = self._key(work, task, run, raw)
        entry = self._entries.get(key) if key is not None else None
        if entry is not None and entry[0]() is task:
            return entry[1]
        values = each_values(work, task, run)
        resolved = tuple(r for value, index in values for r in rs.enabled(task.tasks, value, index))
        branches = Branches(resolved, rs.enabled(task.errors), rs.enabled(task.finally_))
        if key is not None:
            if len(self._entries) >= self.capacity:
                self._entries.clear()
            self._entries[key] = (weakref.ref(task), branches)
        return branches

    @staticmethod
    def _key(work: Work, task: EachTask, run: TaskRun, raw: Any) -> tuple[int, str | None] | None:
        if isinstance(raw, str):
            return id(task), work.render(raw, run, task)
        if isinstance(raw, list) and not any(isinstance(v, (str, dict)) and _has_template(v) for v in raw):
            return id(task), None
        return None


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values()) or any(is_template(k) for k in value)
    return is_template(value)


_EACH_BRANCHES = _EachBranchesMemo()


def _raw_values(task: EachTask) -> Any:
    return cast(ForEach, task).values if short_type(task) == "ForEach" \
        else cast(_EachByValue, task).value


def each_values(work: Work, task: EachTask, run: TaskRun) -> list[tuple[str, int]]:
    """The distinct values of a ForEach / Each*, rendered, as (value string, index)."""
    raw = _raw_values(task)
    values = _parse_values(work, raw, run, task)
    distinct: list[Any] = []
    seen: set[str] = set()
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            distinct.append(value)
    nulls = sum(1 for v in distinct if v is None)
    if nulls:
        raise FlowableError(f"Found '{nulls}' null values on Each, with values={java_repr(values)}")
    return [(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")), i)
            for i, v in enumerate(distinct)]


def _parse_values(work: Work, raw: Any, run: TaskRun, task: TaskOptions) -> list[Any]:
    if isinstance(raw, str):
        text = work.render(raw, run, task)
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise FlowableError(f"values must render to a JSON array, got '{text}' ({error})") from error
        if not isinstance(parsed, list):
            raise FlowableError(f"values must render to a JSON array, got '{text}'")
        return parsed
    return [work.render(v, run, task) if isinstance(v, (str, int)) and not isinstance(v, bool)
            else work.render_value(v, run, task) if isinstance(v, dict) else v for v in raw]


def java_repr(value: Any) -> str:
    """Java's toString of lists and maps (``[1, null, {key=a}]``), as Kestra's messages print them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(java_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_repr(v)}" for k, v in value.items()) + "}"
    return str(value)


# -- start hooks: CREATED -> RUNNING (or PAUSED), with the outputs decided at start -----------
def start_if(work: Work, task: TaskOptions, run: TaskRun) -> dict[str, Any]:
    return {"evaluationResult": is_truthy(work.render(cast(If, task).condition, run, task))}


def start_switch(work: Work, task: TaskOptions, run: TaskRun) -> dict[str, Any]:
    switch = cast(Switch, task)
    value = work.render(switch.value, run, task)
    matched = value in (switch.cases or {})
    if not matched and not switch.defaults:
        raise FlowableError(f"no case of Switch '{task.id}' matches the value '{value}' and it has no "
                            "`defaults`; add a case for it or a `defaults` branch")
    return {"value": value, "defaults": not matched}


def start_each(work: Work, task: TaskOptions, run: TaskRun) -> dict[str, Any]:
    each_values(work, cast(EachTask, task), run)  # fail at start on bad values, as Kestra does
    return {}


def start_waitfor(work: Work, task: TaskOptions, run: TaskRun) -> dict[str, Any]:
    return {"iterationCount": 1}


# What a flowable decides when it starts, by short type; each hook casts to the model of its type.
START_HOOKS: dict[str, Callable[[Work, TaskOptions, TaskRun], dict[str, Any]]] = {
    "If": start_if, "Switch": start_switch, "ForEach": start_each, "EachSequential": start_each,
    "EachParallel": start_each, "WaitFor": start_waitfor,
}
