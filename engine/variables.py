"""L1 pure core: the rendering context of a flow, an execution and a task run (Kestra's ``RunVariables``).

Both the executor (runIf, If conditions, ForEach values, Subflow inputs, flow outputs) and the
worker (task properties) render ``{{ expressions }}`` against :func:`build_variables`, so a task
sees the same variables wherever it is rendered. See docs/expressions.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.model.execution import Execution, TaskRun
from engine.model.flow import Flow
from engine.model.input_values import format_instant
from engine.model.task import TaskOptions


def build_variables(flow: Flow, execution: Execution, task_run: TaskRun | None = None,
                    task: TaskOptions | None = None, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables ``{{ flow }}``, ``{{ execution }}``, ``{{ outputs }}``... for one render.

    Args:
        flow: the parsed flow; only its variables, inputs and tenant are read (the execution
            names the flow and its revision).
        execution: the execution being rendered for.
        task_run: the task run being rendered for, if any (adds taskrun, parent, parents).
        task: the task options being rendered for, if any (adds task.id and task.type).
        extra: more top-level variables (``globals``, ``envs``, ``kestra``...); they do not
            override the execution's own variables.
    """
    by_id = {run.id: run for run in execution.task_run_list}
    variables: dict[str, Any] = dict(extra or {})
    variables.update({
        "flow": _flow_vars(flow, execution),
        "execution": _execution_vars(execution),
        "outputs": outputs_tree(execution, by_id),
        "tasks": _tasks_states(execution),
        "vars": execution_vars(flow, execution),
        "labels": nest_dotted(execution.label_map),
    })
    # As Kestra, a flow without inputs has no `inputs` variable (so the error names `inputs`).
    if execution.inputs or flow.inputs:
        variables["inputs"] = dict(execution.inputs)
    if execution.trigger is not None:
        variables["trigger"] = dict(execution.trigger.variables)
    if task is not None:
        variables["task"] = {"id": task.id, "type": task.type}
    if task_run is not None:
        variables["taskrun"] = taskrun_vars(task_run)
        parents = _parents(task_run, by_id, variables["outputs"])
        if parents:
            variables["parents"] = parents
            variables["parent"] = parents[0]
    return variables


#: Never exposed as ``envs``, whatever the prefix: Podium's own settings and the secrets.
_PRIVATE_PREFIXES = ("PODIUM_", "SECRET_")


def env_variables(environ: Mapping[str, str], prefix: str) -> dict[str, str]:
    """``{{ envs.x }}``: the environment variables named ``prefix`` + ``X``, as ``x`` (Kestra:
    ``ENV_FOO`` -> ``envs.foo``); no other variable of the process, and never Podium's own
    (``PODIUM_*``) or a secret (``SECRET_*``), even under a prefix that would match them."""
    if not prefix:
        raise ValueError("env_vars_prefix must not be empty: it would expose the whole process environment")
    return {name[len(prefix):].lower(): value for name, value in environ.items()
            if name.startswith(prefix) and len(name) > len(prefix)
            and not name.upper().startswith(_PRIVATE_PREFIXES)}


def instance_variables(environment: str | None, url: str | None) -> dict[str, str]:
    """``{{ kestra.environment }}`` and ``{{ kestra.url }}``, each only when it is configured."""
    values: dict[str, str] = {}
    if environment:
        values["environment"] = environment
    if url:
        values["url"] = url
    return values


def execution_vars(flow: Flow, execution: Execution) -> dict[str, Any]:
    """``vars``: the execution's variables once a task set them (``execution.SetVariables``),
    else the flow's ``variables``. An execution whose variables were all unset reads the flow's
    again: an empty map is how an execution without variables of its own is stored."""
    return dict(execution.variables or flow.variables or {})


def taskrun_vars(task_run: TaskRun) -> dict[str, Any]:
    # attemptsCount is the number of attempts already made: a running attempt is not counted,
    # so a task retried for the 4th time sees 3 (Kestra's retry-success flow relies on it).
    done = sum(1 for attempt in task_run.attempts if attempt.state.current.is_terminated)
    values: dict[str, Any] = {"id": task_run.id, "startDate": _iso(task_run.state.start_date),
                              "attemptsCount": done}
    if task_run.parent_task_run_id is not None:
        values["parentId"] = task_run.parent_task_run_id
    if task_run.value is not None:
        values["value"] = task_run.value
    if task_run.iteration is not None:
        values["iteration"] = task_run.iteration
    if task_run.items is not None:
        values["items"] = task_run.items
    return values


def outputs_tree(execution: Execution, by_id: Mapping[str, TaskRun] | None = None) -> dict[str, Any]:
    """Outputs keyed by task id, then by the values of iterating ancestors (outermost first),
    then by the task run's own value (Kestra's ``Execution.outputs()``)."""
    by_id = by_id if by_id is not None else {run.id: run for run in execution.task_run_list}
    result: dict[str, Any] = {}
    for run in execution.task_run_list:
        if not run.outputs:
            continue
        node = result.setdefault(run.task_id, {})
        for key in value_chain(run, by_id):
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node.update(run.outputs)
    return result


def value_chain(run: TaskRun, by_id: Mapping[str, TaskRun]) -> list[str]:
    """Values of the run's ancestors that have one, outermost first, then the run's own value."""
    chain: list[str] = [] if run.value is None else [run.value]
    parent_id = run.parent_task_run_id
    while parent_id is not None and parent_id in by_id:
        parent = by_id[parent_id]
        if parent.value is not None:
            chain.insert(0, parent.value)
        parent_id = parent.parent_task_run_id
    return chain


def nest_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"system.correlationId": x}`` -> ``{"system": {"correlationId": x}}``; a plain key whose
    name is also a prefix keeps its own value under the flat key."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return nested


def _flow_vars(flow: Flow, execution: Execution) -> dict[str, Any]:
    values: dict[str, Any] = {"id": execution.flow_id, "namespace": execution.namespace,
                              "revision": execution.flow_revision}
    tenant = flow.tenant_id
    if tenant:
        values["tenantId"] = tenant
    return values


def _execution_vars(execution: Execution) -> dict[str, Any]:
    return {"id": execution.id, "startDate": _iso(execution.state.start_date),
            "originalId": execution.original_id or execution.id,
            "state": execution.state.current.value}


def _tasks_states(execution: Execution) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for run in execution.task_run_list:
        if run.value is None:
            states[run.task_id] = {"state": run.state.current.value}
        else:
            states.setdefault(run.task_id, {})[run.value] = {"state": run.state.current.value}
    return states


def _parents(run: TaskRun, by_id: Mapping[str, TaskRun], outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every ancestor task run, nearest first, as ``{taskrun: {value}, outputs}``."""
    parents: list[dict[str, Any]] = []
    parent_id = run.parent_task_run_id
    while parent_id is not None and parent_id in by_id:
        parent = by_id[parent_id]
        taskrun: dict[str, Any] = {} if parent.value is None else {"value": parent.value}
        parents.append({"taskrun": taskrun, "outputs": dict(parent.outputs)})
        parent_id = parent.parent_task_run_id
    return parents


def _iso(date: datetime | None) -> str | None:
    return None if date is None else format_instant(date)
