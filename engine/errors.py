"""L1 pure core: the root of Podium's own errors.

Every error a user can cause derives from :class:`PodiumError`, whose message says what went
wrong, where, and how to fix it; the CLI and the API show it as is, never as a traceback.
Subclasses also derive from the matching built-in (ValueError, LookupError...) so callers can
catch either.
"""
from __future__ import annotations


class PodiumError(Exception):
    """An error whose message is meant for the user."""


class NotFound(PodiumError, LookupError):
    """A flow, execution, task run or key that does not exist."""


class Conflict(PodiumError, ValueError):
    """An operation that the current state forbids (kill a finished execution, run a disabled flow)."""


class FlowInvalid(PodiumError, ValueError):
    """A flow source that failed validation; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
