"""L1 pure core: options and spec of ``output.OutputValues``. Run by :mod:`engine.tasks.output_tasks`."""
from __future__ import annotations

from typing import Any

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec


class OutputValuesOptions(TaskOptions):
    values: dict[str, Any] | None = dynamic(None, "Values rendered (strings, recursively) into the `values` output.")


SPECS: list[PluginSpec] = [
    PluginSpec(
        type="io.kestra.plugin.core.output.OutputValues", kind=PluginKind.RUNNABLE,
        options=OutputValuesOptions, title="Output rendered values for downstream tasks.",
        implementation="engine.tasks.output_tasks:run_output_values",
        examples=('values:\n  taskInfo: "{{ task.id }} > {{ taskrun.startDate }}"',)),
]
