"""L1 pure core: options of ``execution.Exit``, ``SetVariables`` and ``UnsetVariables``.

Like ``execution.Labels`` (Kestra's ``ExecutionUpdatableTask``), they change the execution itself,
so the executor applies them (``engine.executor.execution_updates``); no worker is involved.
"""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator

from engine.model.task import TaskOptions, dynamic, is_expression
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.core.execution."


class ExitState(str, Enum):
    """Kestra's ``Exit.ExitState``; CANCELED (one L) ends the execution CANCELLED."""

    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    KILLED = "KILLED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


EXIT_STATES = ", ".join(state.value for state in ExitState)


def _exit_state_or_expression(value: str) -> str:
    if not is_expression(value) and value not in ExitState.__members__:
        raise ValueError(f"'{value}' is not an exit state: write one of {EXIT_STATES} or an {{{{ expression }}}}")
    return value


class Exit(TaskOptions):
    state: Annotated[str, AfterValidator(_exit_state_or_expression)] = dynamic(
        "SUCCESS", f"The execution's final state: {EXIT_STATES}. KILLED also kills the tasks still running.")


class SetVariables(TaskOptions):
    variables: dict[str, Any] | str = dynamic(
        ..., "Merged into the execution's `vars` (nested maps key by key); or an expression rendering to a JSON map.")
    overwrite: DynBool = dynamic(True, "With false, fail when one of the variables already exists.")


class UnsetVariables(TaskOptions):
    variables: list[str] | str = dynamic(
        ..., "Names to remove from `vars`; `a.b` removes key `b` of the map `a`.")
    ignore_missing: DynBool = dynamic(False, "Do not fail when a map on a dotted path does not exist.")


_EXIT_EXAMPLE = """\
id: exit
namespace: company.team
inputs:
  - id: state
    type: SELECT
    values: [CONTINUE, END]
    defaults: CONTINUE
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.state == 'CONTINUE' }}"
    then:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: I'm continuing
    else:
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: KILLED
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: I'm ending
"""

_VARIABLES_EXAMPLE = """\
id: variables
namespace: company.team
variables:
  name: World
tasks:
  - id: set_vars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: Loïc
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.message }} {{ vars.name }}"
  - id: unset_variables
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables:
      - message
      - name
"""

SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "Exit", kind=PluginKind.EXECUTION_UPDATE, options=Exit,
               title="End the execution now, in the state given by `state`; later tasks do not run.",
               examples=(_EXIT_EXAMPLE,)),
    PluginSpec(type=PREFIX + "SetVariables", kind=PluginKind.EXECUTION_UPDATE, options=SetVariables,
               title="Set execution variables, read by later tasks as `{{ vars.* }}`.",
               examples=(_VARIABLES_EXAMPLE,)),
    PluginSpec(type=PREFIX + "UnsetVariables", kind=PluginKind.EXECUTION_UPDATE, options=UnsetVariables,
               title="Remove execution variables.", examples=(_VARIABLES_EXAMPLE,)),
]
