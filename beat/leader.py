"""L4: the beat's singleton lease: only the holder of the ``beat`` leader lock ticks.

Every tick the leader renews its lease (``lease`` seconds, 5 by default); a standby beat tries
to take it every ``standby`` seconds and succeeds once the lease has expired, so a killed leader
is replaced within ``lease + standby`` seconds. The lease runs on the real clock (its own
``clock``), even when the beat's schedule clock is simulated, so that takeovers keep their real
meaning in tests that speed time up.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from engine.persistence.leader import LeaderRepository

logger = logging.getLogger(__name__)
LOCK_NAME = "beat"


def default_holder() -> str:
    """host:pid:random, so a restarted process never mistakes an old lease for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaderElection:
    def __init__(self, locks: LeaderRepository, *, name: str = LOCK_NAME, holder: str | None = None,
                 lease: float = 5.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.locks = locks
        self.name = name
        self.holder = holder or default_holder()
        self.lease = timedelta(seconds=lease)
        self.clock = clock
        self.is_leader: bool | None = None  # unknown until the first try

    def hold(self) -> bool:
        """Takes or renews the lease; False (standby) when another live beat holds it."""
        try:
            held = self.locks.acquire(self.name, self.holder, self.clock(), self.lease)
        except Exception:  # database away: act as standby until it is back
            logger.exception("beat: cannot reach the leader lock")
            held = False
        if held != self.is_leader:
            logger.info("beat %s: %s", self.holder, "leader now" if held else "standby (another beat leads)")
            print(f"podium beat: {'leader' if held else 'standby'} ({self.holder})", flush=True)
        self.is_leader = held
        return held

    def release(self) -> None:
        if self.is_leader:
            self.locks.release(self.name, self.holder)
        self.is_leader = False
