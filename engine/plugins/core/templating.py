"""L1 pure core: options and spec of ``templating.TemplatedTask``. Run by :mod:`engine.tasks.templating_tasks`."""
from __future__ import annotations

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec


class TemplatedTaskOptions(TaskOptions):
    spec: str = dynamic(..., "YAML of a runnable task, rendered, then parsed and run; inherits this task's id.")


SPECS: list[PluginSpec] = [
    PluginSpec(type="io.kestra.plugin.core.templating.TemplatedTask", kind=PluginKind.RUNNABLE,
               options=TemplatedTaskOptions, title="Render a task definition, then run it.",
               aliases=("io.kestra.core.tasks.templating.TemplatedTask",),
               implementation="engine.tasks.templating_tasks:run_templated_task",
               examples=("spec: |\n  type: io.kestra.plugin.core.http.Download\n"
                         "  {{ task.property }}: {{ task.value }}",)),
]
