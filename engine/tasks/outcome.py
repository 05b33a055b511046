"""L1 pure core: what running a task produced, and the error a task raises to fail on purpose."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import PodiumError
from engine.state import State


@dataclass(frozen=True)
class Metric:
    """A metric a task reported (``ctx.metric``), saved with its task run."""

    name: str
    value: float
    type: str = "counter"             # "counter" or "timer" (seconds), as Kestra's metric types
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskOutcome:
    """The end of one attempt: its state, its outputs (JSON-ready, secrets masked), why it failed.

    A task implementation may return one itself to end in WARNING (Kestra's ``finalState()``);
    otherwise it returns a mapping of outputs (or None) and the runner wraps it.
    """

    state: State
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metrics: tuple[Metric, ...] = ()

    @classmethod
    def warning(cls, outputs: dict[str, Any] | None = None, reason: str | None = None) -> TaskOutcome:
        return cls(State.WARNING, outputs or {}, reason)


#: What a task function returns: its outputs, None (no outputs) or an outcome it chose itself.
TaskResult = Mapping[str, Any] | TaskOutcome | None


class TaskFailed(PodiumError):
    """A task failing on purpose (``execution.Fail``, a 404 response...): the message is logged as is."""
