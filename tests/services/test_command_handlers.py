"""Every command the executor emits is carried out somewhere: written in the step's transaction,
announced only, or handled after the commit by its own handler (engine/services/commands.py). A
command nobody handles raises instead of being skipped."""
from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from engine.executor import commands as cmd
from engine.services.commands import ANNOUNCEMENTS, IN_TRANSACTION
from engine.state import State
from tests.services.conftest import Engine

FLOW = """
id: plain
namespace: tests.commands
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello
"""


@dataclasses.dataclass(frozen=True)
class Unknown:
    """A command the runner has no handler for."""


def test_every_command_class_is_in_the_union_the_executor_emits() -> None:
    declared = {value for value in vars(cmd).values()
                if inspect.isclass(value) and dataclasses.is_dataclass(value) and value.__module__ == cmd.__name__}
    assert declared == set(typing.get_args(cmd.Command))


def test_every_command_carried_after_the_commit_has_a_handler(engine: Engine) -> None:
    handled = set(engine.services.executions.commands.handlers)
    after_commit = set(typing.get_args(cmd.Command)) - set(IN_TRANSACTION) - set(ANNOUNCEMENTS)
    assert handled == after_commit, "add a handler to CommandRunner.handlers for each new command class"


def test_an_unknown_command_raises_rather_than_being_skipped(engine: Engine) -> None:
    execution = engine.run(FLOW)
    assert execution.state.current == State.SUCCESS
    flow = engine.services.flows.get(execution.namespace, execution.flow_id, execution.flow_revision)
    commands = engine.services.executions.commands
    with pytest.raises(TypeError, match="no handler carries out the executor command Unknown"):
        commands.after_commit(execution, flow, [Unknown()])  # type: ignore[list-item]  # not a Command on purpose
