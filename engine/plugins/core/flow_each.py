"""L1 pure core: options of the iteration tasks (ForEach and the deprecated EachSequential / EachParallel).

The executor creates one task run per (value, child task), each carrying ``value`` and
``iteration``, directly under the iterating task run, as Kestra's
``FlowableUtils.resolveEachTasks`` does (no extra task run per value).
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from engine.model.task import FlowableOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec, TaskList
from engine.plugins.core.flow import LEGACY, PREFIX

# A list of values, or a string (usually an expression) that renders to a JSON array.
EachValues = str | list[Any]


def _check_values(values: Any) -> None:
    # Null items are a run-time failure in Kestra ("Found '1' null values on Each"), not a
    # validation error, so only an empty string is refused here.
    if isinstance(values, str) and not values.strip():
        raise ValueError("values must be a JSON array or an expression, not an empty string")


class ForEach(FlowableOptions):
    values: EachValues = dynamic(..., "A list, or a JSON array string; each value runs the tasks once.")
    concurrency_limit: int = Field(1, ge=0, description="Value groups run at once: 1 = one after the other, 0 = all.")
    tasks: TaskList = Field(min_length=1, description="Tasks run for each value, one after the other.")

    @model_validator(mode="after")
    def _values_ok(self) -> ForEach:
        _check_values(self.values)
        return self


class EachSequential(FlowableOptions):
    value: EachValues = dynamic(..., "A list, or a JSON array string.")
    tasks: TaskList = Field(min_length=1)

    @model_validator(mode="after")
    def _values_ok(self) -> EachSequential:
        _check_values(self.value)
        return self


class EachParallel(FlowableOptions):
    value: EachValues = dynamic(..., "A list, or a JSON array string.")
    tasks: TaskList = Field(min_length=1)
    concurrent: int = Field(0, ge=0, description="Task runs started at once; 0 means no limit.")

    @model_validator(mode="after")
    def _values_ok(self) -> EachParallel:
        _check_values(self.value)
        return self


_EXAMPLE_FOR_EACH = """\
id: for_each_value
namespace: company.team
tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["value 1", "value 2", "value 3"]
    concurrencyLimit: 2
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}'"
"""

SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "ForEach", kind=PluginKind.FLOWABLE, options=ForEach,
               title="Execute a group of tasks for each value in the list.",
               description="`concurrencyLimit` 1 runs the groups one after the other, 0 all at once. "
                           "The current value is `{{ taskrun.value }}` (`{{ parent.taskrun.value }}` deeper).",
               examples=(_EXAMPLE_FOR_EACH,)),
    PluginSpec(type=PREFIX + "EachSequential", kind=PluginKind.FLOWABLE, options=EachSequential,
               title="For each value, run tasks sequentially (deprecated: use ForEach).",
               aliases=(LEGACY + "EachSequential",), deprecated=True),
    PluginSpec(type=PREFIX + "EachParallel", kind=PluginKind.FLOWABLE, options=EachParallel,
               title="For each value, run tasks in parallel (deprecated: use ForEach).",
               aliases=(LEGACY + "EachParallel",), deprecated=True),
]
