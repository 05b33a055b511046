"""The beat process: ticks until Ctrl-C or SIGTERM, as the leader of the beats that share a database."""
from __future__ import annotations

import os
import signal
from types import FrameType

from engine.settings import Settings


def run_beat(settings: Settings, interval: float, *, lease: float = 5.0, leader_lock: bool = True) -> int:
    """Runs beat in the foreground; returns the process's exit code."""
    # Imported here so that --help needs neither the database layer nor Celery.
    from beat.clock import clock_from_env
    from beat.leader import LeaderElection
    from beat.loop import Beat
    from engine.heap import freeze_startup_objects, tune_collector
    from engine.log_config import configure_logging
    from engine.services import build_services
    from messaging.celery_app import make_celery
    from messaging.dispatch import CeleryDispatcher
    from messaging.processes import database_label

    configure_logging(settings.log_format, settings.log_level, process="beat")
    clock = clock_from_env(os.environ)
    services = build_services(settings, CeleryDispatcher(make_celery(settings)), clock=clock)
    leader = LeaderElection(services.env.leader, lease=lease) if leader_lock else None
    beat = Beat(services, interval=interval, clock=clock, leader=leader)
    tune_collector()
    freeze_startup_objects()

    def stop(signum: int, frame: FrameType | None) -> None:
        beat.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"podium beat: ticking every {interval}s against {database_label(settings)}", flush=True)
    try:
        beat.run()
    finally:
        beat.release()
    print("podium beat: stopped", flush=True)
    return 0
