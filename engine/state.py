"""L1 pure core: execution and task run states, their groups and the legal transitions.

Every state change in Podium goes through :func:`transition`, which raises
:class:`IllegalTransition` for a move the table does not allow. The table follows
Kestra's ``State`` and ``ExecutorService``.
"""
from __future__ import annotations

from enum import Enum


class State(str, Enum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminated(self) -> bool:
        return self in TERMINATED

    @property
    def is_running(self) -> bool:
        return self in RUNNING_STATES

    @property
    def is_failed(self) -> bool:
        return self in FAILED_STATES


# A terminated record never changes again, except through an explicit operation
# (restart, change-status), which is why those operations have their own rows below.
TERMINATED = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED,
                        State.CANCELLED, State.RETRIED, State.SKIPPED})
RUNNING_STATES = frozenset({State.RUNNING, State.KILLING})
CREATED_STATES = frozenset({State.CREATED, State.RESTARTED})
FAILED_STATES = frozenset({State.FAILED, State.KILLED, State.CANCELLED})
# Severity used to derive a parent's or an execution's final state (Kestra's guessFinalState):
# the most severe child state wins.
SEVERITY: dict[State, int] = {
    State.SUCCESS: 0, State.SKIPPED: 0, State.RETRIED: 0, State.WARNING: 1, State.PAUSED: 2,
    State.CANCELLED: 3, State.FAILED: 4, State.KILLED: 5,
}

_T = TERMINATED
_ENDINGS = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.QUEUED, State.RUNNING, State.SKIPPED, State.PAUSED, State.KILLING,
                              State.RESTARTED}) | _ENDINGS,
    State.QUEUED: frozenset({State.CREATED, State.RUNNING, State.KILLING}) | _ENDINGS,
    State.RUNNING: frozenset({State.PAUSED, State.KILLING, State.RETRYING, State.RETRIED,
                              State.RESTARTED, State.CREATED}) | _ENDINGS,
    State.PAUSED: frozenset({State.RUNNING, State.RESTARTED, State.KILLING, State.CREATED}) | _ENDINGS,
    State.RESTARTED: frozenset({State.CREATED, State.RUNNING, State.KILLING}) | _ENDINGS,
    State.KILLING: frozenset({State.KILLED}) | _ENDINGS,
    State.RETRYING: frozenset({State.CREATED, State.RUNNING, State.RETRIED, State.KILLING,
                               State.RESTARTED}) | _ENDINGS,
    # Terminal states only move through operations: retry (FAILED -> RETRYING / RETRIED),
    # restart (-> RESTARTED), and change-status or change-task-run-state (terminal -> terminal).
    State.FAILED: frozenset({State.RETRYING, State.RETRIED, State.RESTARTED}) | _T,
    State.WARNING: frozenset({State.RESTARTED, State.RETRYING}) | _T,
    State.KILLED: frozenset({State.RESTARTED}) | _T,
    State.CANCELLED: frozenset({State.RESTARTED}) | _T,
    State.SUCCESS: frozenset({State.RESTARTED}) | _T,
    State.RETRIED: frozenset({State.RESTARTED}) | _T,
    State.SKIPPED: frozenset({State.RESTARTED}) | _T,
}


class IllegalTransition(ValueError):
    """A state change the transition table forbids."""

    def __init__(self, record: str, current: State, target: State) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        super().__init__(f"{record}: cannot go from {current.value} to {target.value} "
                         f"(allowed from {current.value}: {allowed})")
        self.record, self.current, self.target = record, current, target


def can_transition(current: State, target: State) -> bool:
    return current == target or target in TRANSITIONS[current]


def transition(record: str, current: State, target: State) -> State:
    """Returns ``target`` if ``current -> target`` is legal, else raises IllegalTransition.

    ``record`` names what changes (``execution 3fa...`` or ``task run 7bc... (t1)``) so the
    error says where. Setting the same state again is allowed and changes nothing.
    """
    if not can_transition(current, target):
        raise IllegalTransition(record, current, target)
    return target


def worst(states: list[State] | tuple[State, ...], default: State = State.SUCCESS) -> State:
    """The most severe of ``states`` (KILLED > FAILED > CANCELLED > PAUSED > WARNING > SUCCESS)."""
    return max(states, key=lambda s: SEVERITY.get(s, 0), default=default)
