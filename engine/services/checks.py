"""L3: a flow's ``checks`` (Kestra 1.2), evaluated on the inputs before an execution is created.

Each check's ``condition`` is rendered with the flow and the resolved inputs; it passes only when
it renders to the boolean ``true``. A condition that cannot be rendered fails as a check that
blocks, with the cause as its message (Kestra's ``FlowService.getFailedChecks``). When checks
fail, the most restrictive behaviour wins: BLOCK_EXECUTION (nothing is created; the caller gets
the messages), FAIL_EXECUTION (the execution is created FAILED; no task runs), CREATE_EXECUTION
(it runs as usual). The messages of failed checks are logged on the execution at their style's
level when one is created.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import PodiumError
from engine.model.flow import Check, CheckBehavior, CheckStyle, Flow

RenderTyped = Callable[[str, Mapping[str, Any]], Any]

_RESTRICTION = {CheckBehavior.CREATE_EXECUTION: 0, CheckBehavior.FAIL_EXECUTION: 1,
                CheckBehavior.BLOCK_EXECUTION: 2}
_LEVELS = {CheckStyle.ERROR: "ERROR", CheckStyle.WARNING: "WARN", CheckStyle.INFO: "INFO",
           CheckStyle.SUCCESS: "INFO"}
FAILED_MESSAGE = "Flow execution failed because one or more condition checks evaluated to false."


class ExecutionBlocked(PodiumError, ValueError):
    """A check with behavior BLOCK_EXECUTION failed: no execution was created."""


@dataclass(frozen=True)
class FailedCheck:
    message: str
    style: CheckStyle
    behavior: CheckBehavior

    @property
    def level(self) -> str:
        """The log level of its message."""
        return _LEVELS[self.style]


def failed_checks(flow: Flow, variables: Mapping[str, Any], render: RenderTyped) -> list[FailedCheck]:
    """The checks of ``flow`` whose condition is not true for ``variables`` (flow, inputs...)."""
    return [failed for check in flow.checks or () if (failed := _evaluate(check, variables, render)) is not None]


def _evaluate(check: Check, variables: Mapping[str, Any], render: RenderTyped) -> FailedCheck | None:
    try:
        passed = render(check.condition, variables) is True
    except Exception as error:  # noqa: BLE001 - any render failure blocks, with its cause, as Kestra does
        return FailedCheck(f"Failed to evaluate check condition. Cause: {error}", CheckStyle.ERROR,
                           CheckBehavior.BLOCK_EXECUTION)
    return None if passed else FailedCheck(check.message, check.style, check.behavior)


def behavior_of(failed: Sequence[FailedCheck]) -> CheckBehavior:
    """The most restrictive behaviour among the failed checks (CREATE_EXECUTION when none)."""
    return max((check.behavior for check in failed), key=_RESTRICTION.__getitem__,
               default=CheckBehavior.CREATE_EXECUTION)


def blocked(flow: Flow, failed: Sequence[FailedCheck]) -> ExecutionBlocked:
    """The refusal of a blocked execution, with the message of each failed check."""
    messages = "; ".join(check.message for check in failed)
    return ExecutionBlocked(f"execution of flow {flow.namespace}.{flow.id} blocked: its checks evaluated to "
                            f"false: {messages}")
