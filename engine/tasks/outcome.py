"""L1 pure core: what running a task produced, and the error a task raises to fail on purpose."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import PodiumError
from engine.state import State


@dataclass(frozen=True)
class TaskOutcome:
    """The end of one attempt: its state, its outputs (JSON-ready, secrets masked), why it failed.

    A task implementation may return one itself to end in WARNING (Kestra's ``finalState()``);
    otherwise it returns a mapping of outputs (or None) and the runner wraps it.
    """

    state: State
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metrics: tuple[Any, ...] = ()

    @classmethod
    def warning(cls, outputs: dict[str, Any] | None = None, reason: str | None = None) -> TaskOutcome:
        return cls(State.WARNING, outputs or {}, reason)


class TaskFailed(PodiumError):
    """A task failing on purpose (``execution.Fail``, a 404 response...): the message is logged as is."""
