"""L3: beat's side of the executor: due timers become executor events."""
from __future__ import annotations

from datetime import datetime

from engine.executor import events as ev
from engine.services.messages import encode_event
from engine.services.runtime import Env

_BATCH = 500


class TimerService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def fire_due(self, now: datetime) -> int:
        """Claims the timers due at ``now`` and sends each to the executor as ``TimerFired``.

        A claim is a lease: if this process dies between the claim and the delete, the timer is
        due again when the lease ends, and the event it becomes is idempotent in the executor.
        """
        fired = 0
        for timer in self.env.timers.due(now, limit=_BATCH):
            if timer.execution_id is None or timer.task_run_id is None:
                continue  # not an executor timer (beat's own kinds are handled by beat)
            event = ev.TimerFired(timer.task_run_id, ev.TimerKind(timer.kind), dict(timer.payload or {}))
            self.env.dispatcher.send_event(timer.execution_id, encode_event(event))
            self.env.timers.delete(timer.id)
            fired += 1
        return fired

    def reap(self, now: datetime) -> int:
        """Re-dispatching task runs whose worker lease expired is the production-mode issue's work."""
        return 0
