"""Which executions a thread of this executor process is stepping right now.

A wide fan-out sends its results at once. Each executor thread that takes one would block on the
execution's row lock, then find it applied already (results waiting together are applied in one
step): every thread of the process ends up waiting on one execution while the others starve.
Instead, a terminal result for an execution that another thread of this process is stepping is
left to that thread: its result is already in the outbox (workers record it before sending), and
the thread, told to come back, steps once more for whatever waits there (docs/executor.md).
"""
from __future__ import annotations

import threading


class ExecutionTurns:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owned: dict[str, bool] = {}  # execution id -> asked to come back

    def take(self, execution_id: str) -> bool:
        """True: the caller steps the execution until ``release`` says it is done. False: another
        thread steps it and was asked to come back once more."""
        with self._lock:
            if execution_id in self._owned:
                self._owned[execution_id] = True
                return False
            self._owned[execution_id] = False
            return True

    def release(self, execution_id: str) -> bool:
        """Ends the owner's turn, unless it was asked to come back meanwhile: then True, and the
        turn goes on (the owner steps again and calls ``release`` again)."""
        with self._lock:
            if self._owned.get(execution_id):
                self._owned[execution_id] = False
                return True
            self._owned.pop(execution_id, None)
            return False

    def abandon(self, execution_id: str) -> None:
        """Ends the owner's turn whatever was asked (its step failed)."""
        with self._lock:
            self._owned.pop(execution_id, None)
