"""L4: the beat loop: every ``interval`` seconds, fire due timers and reap expired leases.

``tick(now) -> seconds_to_sleep`` does one round with ``now`` as an argument (tests pass any
clock); :meth:`Beat.run` sleeps between ticks until its stop event is set (Ctrl-C in
``python -m beat``). With a :class:`~beat.leader.LeaderElection`, only the holder of the ``beat``
leader lock ticks; the others stand by and take over when its lease expires. Even without the lock
two beats are safe: timers, reaping and schedule fire times are idempotent in the services layer.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from beat.clock import utc_now

if TYPE_CHECKING:
    from beat.leader import LeaderElection

logger = logging.getLogger(__name__)


class BeatServices(Protocol):
    def fire_due_timers(self, now: datetime) -> int: ...

    def reap_expired_leases(self, now: datetime) -> int: ...

    def fire_schedules(self, now: datetime) -> int: ...

    def advance_backfills(self, now: datetime, per_tick: int = 500) -> int: ...


class Beat:
    """Calls the services' time-driven work at a steady pace."""

    def __init__(self, services: BeatServices, *, interval: float = 0.2,
                 clock: Callable[[], datetime] = utc_now, leader: LeaderElection | None = None,
                 standby_interval: float = 1.0) -> None:
        self.services = services
        self.leader = leader
        self.standby_interval = standby_interval
        self.interval = interval
        self.clock = clock
        self.stop_event = threading.Event()

    def tick(self, now: datetime) -> float:
        """One round; returns how long to sleep before the next. A failure is logged, not fatal."""
        if self.leader is not None and not self.leader.hold():
            return self.standby_interval
        try:
            fired = self.services.fire_due_timers(now)
            reaped = self.services.reap_expired_leases(now)
            scheduled = self.services.fire_schedules(now)
            backfilled = self.services.advance_backfills(now)
        except Exception:  # the database may be briefly away; try again next tick
            logger.exception("beat tick failed")
            return max(self.interval, 1.0)
        if fired or reaped or scheduled or backfilled:
            logger.info("beat: %s timer(s) fired, %s lease(s) reaped, %s scheduled and %s backfilled "
                        "execution(s)", fired, reaped, scheduled, backfilled)
        return self.interval

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.stop_event.wait(self.tick(self.clock()))

    def stop(self) -> None:
        self.stop_event.set()

    def release(self) -> None:
        """Gives up the leader lock on a clean stop, so a standby takes over at once."""
        if self.leader is not None:
            self.leader.release()
