"""L1 pure core: options of Pause, WaitFor, WorkingDirectory and the deprecated Template.

Pause and WaitFor are resolved by the executor with timers. WorkingDirectory is the one
flowable task that is sent to a worker: its whole subtree runs there in one directory.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, field_validator, model_validator

from engine.model.task import Duration, FlowableOptions, dynamic, is_expression, renamed
from engine.plugins.base import Options, PluginKind, PluginSpec, TaskList
from engine.plugins.core.flow import LEGACY, PREFIX


class PauseBehavior(str, Enum):
    """What a Pause does when its ``pauseDuration`` ends (Kestra 0.23+)."""

    RESUME = "RESUME"  # the Pause ends SUCCESS and the execution goes on
    WARN = "WARN"      # the Pause ends WARNING and the execution goes on
    FAIL = "FAIL"      # the Pause ends FAILED (errors run, then the execution ends FAILED)
    CANCEL = "CANCEL"  # the Pause and the execution end CANCELLED; nothing else runs


class Pause(FlowableOptions):
    pause_duration: Duration | None = dynamic(
        None, "Ends the pause after this duration (ISO-8601) as `behavior` says; `delay` is its 0.21 name.")
    behavior: str = dynamic(PauseBehavior.RESUME.value, "RESUME, WARN, FAIL or CANCEL: what happens when "
                                                        "`pauseDuration` ends (a manual resume always goes on).")
    timeout: Duration | None = dynamic(None, "Without `pauseDuration`: the pause FAILS when not resumed "
                                             "within this duration (ignored with `pauseDuration`).")
    on_resume: list[dict[str, Any]] | None = Field(
        None, description="Inputs asked on resume (same form as flow inputs); read as `outputs.<id>.onResume`.")
    tasks: TaskList | None = Field(None, description="Deprecated: tasks run after the pause.")

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return renamed(data, "delay", "pauseDuration")

    @field_validator("behavior")
    @classmethod
    def _known_behavior(cls, value: str) -> str:
        if not is_expression(value) and value not in PauseBehavior.__members__:
            raise ValueError(f"'{value}' is not a Pause behavior; use one of {', '.join(PauseBehavior.__members__)}")
        return value


class CheckFrequency(Options):
    max_iterations: int = Field(default=100, ge=1, description="Stop after this many iterations.")
    max_duration: Duration = Field(default="PT1H", description="Stop after this long.")
    interval: Duration = Field(default="PT1S", description="Wait between two iterations.")


class WaitFor(FlowableOptions):
    tasks: TaskList = Field(min_length=1, description="Tasks run again until the condition is truthy.")
    condition: str | bool = dynamic(..., "Checked after each iteration; truthy ends the loop.")
    fail_on_max_reached: bool = Field(False, description="Fail when a limit is reached instead of succeeding.")
    check_frequency: CheckFrequency = Field(default_factory=CheckFrequency)


class NamespaceFiles(Options):
    enabled: bool = True
    include: list[str] | None = None
    exclude: list[str] | None = None


class Cache(Options):
    patterns: list[str] = Field(min_length=1, description="Globs of files kept between executions.")
    ttl: Duration | None = None


class WorkingDirectory(FlowableOptions):
    tasks: TaskList = Field(min_length=1, description="Tasks run on one worker, in one directory.")
    namespace_files: NamespaceFiles | None = None
    input_files: dict[str, str] | str | None = dynamic(None, "Files written before the tasks run.")
    output_files: list[str] | None = dynamic(None, "Globs of files stored after the tasks ran.")
    cache: Cache | None = None


class Template(FlowableOptions):
    namespace: str
    template_id: str
    tenant_id: str | None = None
    args: dict[str, str] | None = None


_EXAMPLE_PAUSE = """\
id: human_in_the_loop
namespace: company.team
tasks:
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
  - id: approve
    type: io.kestra.plugin.core.log.Log
    message: "Approved: {{ outputs.wait_for_approval.onResume.reason }}"
"""

_EXAMPLE_WAIT_FOR = """\
id: waitfor
namespace: company.team
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.return.value == '4' }}"
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount }}"
"""

_WORKING_DIRECTORY_ALIASES = (LEGACY + "WorkingDirectory", LEGACY + "Worker", PREFIX + "Worker")

SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "Pause", kind=PluginKind.FLOWABLE, options=Pause,
               title="Pause the execution, for a delay or until resumed.",
               description="Without `pauseDuration` or `timeout` the execution stays PAUSED until resumed. "
                           "Output: `onResume`.",
               aliases=(LEGACY + "Pause",), examples=(_EXAMPLE_PAUSE,)),
    PluginSpec(type=PREFIX + "WaitFor", kind=PluginKind.FLOWABLE, options=WaitFor,
               title="Run tasks again until a condition is true.",
               description="Output: `iterationCount`. Limits come from `checkFrequency`.",
               # LoopUntil is WaitFor's later name (Kestra 0.22+); the defaults here are WaitFor's.
               aliases=(PREFIX + "LoopUntil",), examples=(_EXAMPLE_WAIT_FOR,)),
    PluginSpec(type=PREFIX + "WorkingDirectory", kind=PluginKind.FLOWABLE, options=WorkingDirectory,
               title="Run tasks on one worker, sharing a working directory.",
               description="Output: `outputFiles`.", aliases=_WORKING_DIRECTORY_ALIASES),
    PluginSpec(type=PREFIX + "Template", kind=PluginKind.FLOWABLE, options=Template,
               title="Include a template (deprecated, removed from Kestra).",
               aliases=(LEGACY + "Template",), deprecated=True, implemented=False),
]
