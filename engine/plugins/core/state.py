"""L1 pure core: options and specs of the legacy ``state`` tasks (Set, Get, Delete).

A state is a JSON document stored per namespace (and flow, unless ``namespace: true``) and per
``taskrun.value`` (unless ``taskrunValue: false``). Run by :mod:`engine.tasks.state_tasks`.
"""
from __future__ import annotations

from typing import Any

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.core.state."
LEGACY = "io.kestra.core.tasks.states."


class BaseStateOptions(TaskOptions):
    name: str = dynamic("default", "Name of the state document.")
    namespace: DynBool = dynamic(False, "Share the state with the whole namespace instead of this flow only.")
    taskrun_value: DynBool = dynamic(True, "Keep one state per `taskrun.value` (ForEach iteration).")


class StateSetOptions(BaseStateOptions):
    data: dict[str, Any] | None = dynamic(None, "Keys merged (rendered) into the stored document.")


class StateGetOptions(BaseStateOptions):
    error_on_missing: DynBool = dynamic(False, "Fail when the state does not exist.")


class StateDeleteOptions(BaseStateOptions):
    error_on_missing: DynBool = dynamic(False, "Fail when the state does not exist.")


SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "Set", kind=PluginKind.RUNNABLE, options=StateSetOptions,
               title="Merge values into a state document.", aliases=(LEGACY + "Set",),
               implementation="engine.tasks.state_tasks:run_set", deprecated=True,
               examples=("name: myState\ndata:\n  name: John Doe",)),
    PluginSpec(type=PREFIX + "Get", kind=PluginKind.RUNNABLE, options=StateGetOptions,
               title="Read a state document.", aliases=(LEGACY + "Get",),
               implementation="engine.tasks.state_tasks:run_get", deprecated=True,
               examples=("name: myState",)),
    PluginSpec(type=PREFIX + "Delete", kind=PluginKind.RUNNABLE, options=StateDeleteOptions,
               title="Delete a state document.", aliases=(LEGACY + "Delete",),
               implementation="engine.tasks.state_tasks:run_delete", deprecated=True,
               examples=("name: myState",)),
]
