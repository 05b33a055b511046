"""L1 pure core: options and specs of the ``namespace`` file tasks and ``trigger.Toggle``.

The namespace file tasks validate so that flows using them load, but running them is not
implemented yet: running one fails with a clear "not implemented yet" error (see
:func:`engine.tasks.runner.run_task`). ``trigger.Toggle`` runs in :mod:`engine.tasks.toggle_tasks`.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.core.namespace."


class Conflict(str, Enum):
    OVERWRITE = "OVERWRITE"
    ERROR = "ERROR"
    SKIP = "SKIP"


class UploadFilesOptions(TaskOptions):
    namespace: str = dynamic(...)
    files: list[str] | None = dynamic(None)
    files_map: dict[str, Any] | str | None = dynamic(None)
    destination: str = dynamic("/")
    conflict: Conflict = Conflict.OVERWRITE


class DownloadFilesOptions(TaskOptions):
    namespace: str = dynamic(...)
    files: list[str] | str = dynamic(...)
    destination: str = dynamic("")


class DeleteFilesOptions(TaskOptions):
    namespace: str = dynamic(...)
    files: list[str] | str = dynamic(...)
    delete_parent_folder: DynBool = False


class ToggleOptions(TaskOptions):
    namespace: str | None = dynamic(None)
    flow_id: str | None = dynamic(None)
    trigger: str = dynamic(...)
    enabled: DynBool = dynamic(False)


def _pending(type_name: str, options: type[TaskOptions], title: str,
             aliases: tuple[str, ...] = ()) -> PluginSpec:
    return PluginSpec(type=type_name, kind=PluginKind.RUNNABLE, options=options, title=title,
                      aliases=aliases, implemented=False)


SPECS: list[PluginSpec] = [
    _pending(PREFIX + "UploadFiles", UploadFilesOptions, "Upload files to namespace storage."),
    _pending(PREFIX + "DownloadFiles", DownloadFilesOptions, "Download namespace files."),
    _pending(PREFIX + "DeleteFiles", DeleteFilesOptions, "Delete namespace files."),
    PluginSpec(type="io.kestra.plugin.core.trigger.Toggle", kind=PluginKind.RUNNABLE, options=ToggleOptions,
               title="Enable or disable a trigger.", aliases=("io.kestra.core.tasks.trigger.Toggle",),
               implementation="engine.tasks.toggle_tasks:run_toggle",
               examples=("trigger: schedule\nenabled: false",)),
]
