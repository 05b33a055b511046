"""L1 pure core: options and specs of the runnable ``execution`` tasks (Fail, Assert, Resume,
Count, PurgeExecutions). Run by :mod:`engine.tasks.execution_tasks`. ``execution.Labels`` changes the execution
inside the executor and is declared with the flowable tasks, not here.
"""
from __future__ import annotations

from typing import Any

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool
from engine.state import State

PREFIX = "io.kestra.plugin.core.execution."
LEGACY = "io.kestra.core.tasks.executions."


class FailOptions(TaskOptions):
    condition: str | bool | None = dynamic(None, "Fail only when this renders truthy; always fail without it.")
    error_message: str = dynamic("Task failure", "Message of the failure.")


class AssertOptions(TaskOptions):
    conditions: list[str] = dynamic(..., "Each renders to a boolean: false, 0, -0 and empty are false.")
    error_message: str | None = dynamic(None, "Added on a new line to the failure message.")


class ResumeOptions(TaskOptions):
    namespace: str | None = dynamic(None, "Namespace of the paused execution; the current flow's by default.")
    flow_id: str | None = dynamic(None, "Flow of the paused execution; the current flow by default.")
    execution_id: str | None = dynamic(None, "The paused execution; the current one by default.")
    inputs: dict[str, Any] | None = dynamic(None, "Values of the Pause task's `onResume` inputs.")


class FlowRef(Options):
    namespace: str
    flow_id: str | None = None


class CountOptions(TaskOptions):
    flows: list[FlowRef] | None = None
    namespaces: list[str] | None = dynamic(None)
    states: list[State] | None = None
    start_date: str = dynamic(...)
    end_date: str | None = dynamic(None)
    expression: str = dynamic(..., "Filter on each flow's `count`, e.g. `{{ count == 0 }}`.")


class PurgeExecutionsOptions(TaskOptions):
    namespace: str | None = dynamic(None)
    flow_id: str | None = dynamic(None)
    execution_id: str | None = dynamic(None)
    start_date: str | None = dynamic(None)
    end_date: str = dynamic(...)
    states: list[State] | None = None
    purge_execution: DynBool = True
    purge_log: DynBool = True
    purge_metric: DynBool = True
    purge_storage: DynBool = True


SPECS: list[PluginSpec] = [
    PluginSpec(
        type=PREFIX + "Fail", kind=PluginKind.RUNNABLE, options=FailOptions,
        title="Fail the execution, always or when a condition is true.",
        aliases=(LEGACY + "Fail",), implementation="engine.tasks.execution_tasks:run_fail",
        examples=('condition: "{{ inputs.param == \'fail\' }}"\nerrorMessage: Bad input',)),
    PluginSpec(
        type=PREFIX + "Assert", kind=PluginKind.RUNNABLE, options=AssertOptions,
        title="Fail the task, listing the failed conditions, unless every condition is true.",
        implementation="engine.tasks.execution_tasks:run_assert",
        examples=('conditions:\n  - "{{ inputs.param == \'ok\' }}"\n  - "{{ 1 + 1 == 2 }}"',)),
    PluginSpec(
        type=PREFIX + "Resume", kind=PluginKind.RUNNABLE, options=ResumeOptions,
        title="Resume a paused execution.",
        implementation="engine.tasks.execution_tasks:run_resume",
        examples=('executionId: "{{ inputs.executionId }}"',)),
    PluginSpec(
        type=PREFIX + "Count", kind=PluginKind.RUNNABLE, options=CountOptions,
        title="Count executions of flows and filter the counts with an expression.",
        aliases=(LEGACY + "Counts",), implementation="engine.tasks.execution_tasks:run_count",
        implemented=False),
    PluginSpec(
        type=PREFIX + "PurgeExecutions", kind=PluginKind.RUNNABLE, options=PurgeExecutionsOptions,
        title="Purge executions, logs, metrics and files older than a date.",
        aliases=("io.kestra.core.tasks.storages.Purge", "io.kestra.plugin.core.storage.Purge"),
        implementation="engine.tasks.execution_tasks:run_purge_executions", implemented=False),
]
