"""L1 pure core: the kinds of plugin type, in a module of their own so that the command line can
list them (``podium plugins list --kind``) without loading pydantic."""
from __future__ import annotations

from enum import Enum


class PluginKind(str, Enum):
    RUNNABLE = "runnable"            # runs on a worker and returns outputs
    FLOWABLE = "flowable"            # resolved by the executor (Sequential, If, ForEach, ...)
    EXECUTABLE = "executable"        # starts child executions (Subflow, ForEachItem)
    EXECUTION_UPDATE = "execution-update"  # changes the execution inside the executor (Labels)
    TRIGGER = "trigger"
    CONDITION = "condition"
    TASK_RUNNER = "task-runner"
    OTHER = "other"                  # helper objects with a type (e.g. chart, data source)

    @property
    def is_task(self) -> bool:
        return self in (PluginKind.RUNNABLE, PluginKind.FLOWABLE, PluginKind.EXECUTABLE,
                        PluginKind.EXECUTION_UPDATE)
