"""L4: the beat's clock: the real one, or a simulated one shared by several processes.

``PODIUM_BEAT_FAKE_CLOCK="start=2024-06-03T08:00:00+00:00,anchor=1717400000.5,speed=600,end=..."``
makes simulated time ``start + (time.time() - anchor) * speed``, frozen at ``end`` (optional).
Every process given the same value computes the same simulated time from the shared wall clock,
so two beats started at different moments still agree on "now" (tests/beat/test_processes.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

ENV_VAR = "PODIUM_BEAT_FAKE_CLOCK"


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock_from_env(environ: Mapping[str, str]) -> Callable[[], datetime]:
    spec = environ.get(ENV_VAR)
    return simulated_clock(spec) if spec else utc_now


def simulated_clock(spec: str) -> Callable[[], datetime]:
    try:
        fields = dict(part.split("=", 1) for part in spec.split(",") if part.strip())
        start = datetime.fromisoformat(fields["start"])
        anchor = float(fields.get("anchor", time.time()))
        speed = float(fields.get("speed", 1))
        end = datetime.fromisoformat(fields["end"]) if "end" in fields else None
    except (KeyError, ValueError) as err:
        raise ValueError(f"{ENV_VAR}='{spec}' is invalid ({err}); expected "
                         "start=ISO,anchor=UNIX_SECONDS,speed=FACTOR[,end=ISO]") from None

    def now() -> datetime:
        moment = start + timedelta(seconds=(time.time() - anchor) * speed)
        return min(moment, end) if end is not None else moment

    return now
