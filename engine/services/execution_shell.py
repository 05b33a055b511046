"""L3: the execution service as the modules it builds call it back, so that they need not import it.

The executor's shell is recursive. Starting an execution applies its first step, whose commands
may start a subflow (another execution) or retry the execution in a new one; the end of an
execution fires Flow triggers, which start executions; beat runs a kept command again through
the same shell. The modules that carry out those parts sit below ``executions.py`` and reach
the execution service only through :class:`ExecutionShell`, which ``ExecutionService`` hands
them (itself) when it builds them. Imports therefore go one way, each module importing only the
ones above it in this list:

- ``messages``, ``execution_shell``: events as JSON; this protocol;
- ``flow_triggers``: evaluates Flow triggers, starts what they fire;
- ``pending_commands``: the commands kept until done, and beat's replay of them;
- ``commands``: carries out a step's commands, in its transaction and after its commit;
- ``executions``: ``ExecutionService``, which creates executions, applies steps and builds the
  three above;
- ``executor_events``: the executor process's side, one event applied at a time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from engine.executor.commands import Command
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import Flow


class ExecutionShell(Protocol):
    """What commands, pending commands and Flow triggers ask of the execution service."""

    def start_execution(self, namespace: str, flow_id: str, *, inputs: Mapping[str, Any] | None = None,
                        labels: Mapping[str, Any] | None = None, revision: int | None = None,
                        trigger: ExecutionTrigger | None = None, parent: Execution | None = None,
                        parent_task_run_id: str | None = None, validate_inputs: bool = True,
                        execution_id: str | None = None) -> Execution:
        """Creates an execution of the flow and hands it to the executor (a child, a fire)."""
        ...

    def retry_in_new_execution(self, execution_id: str, retry_id: str) -> Execution:
        """Starts the next attempt of an execution as a new one, with the id ``retry_id``."""
        ...

    def on_ended(self, execution: Execution, *, notify: bool = True) -> None:
        """Frees the execution's slot, runs the Flow triggers of its end, wakes its parent."""
        ...

    def after_commit(self, execution: Execution, flow: Flow, commands: Sequence[Command]) -> None:
        """Carries out commands that leave the process (a step's, or a kept one again)."""
        ...

    def extra_variables(self) -> dict[str, Any]:
        """The variables every expression outside a task sees (``globals``, ``envs``)."""
        ...
