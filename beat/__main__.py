"""``python -m beat``: Podium's beat process (timers, lease reaper) until Ctrl-C."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from engine.settings import Settings, load_settings
from worker.processes import EmbeddedBrokerError, require_shared_broker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m beat", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (default: PODIUM_CONFIG)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between ticks")
    parser.add_argument("--lease", type=float, default=5.0,
                        help="seconds a dead leader keeps the beat lock before a standby takes over")
    parser.add_argument("--no-leader-lock", action="store_true",
                        help="tick even when another beat leads (tests of idempotency only)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        require_shared_broker(settings)
    except ValueError as err:  # pydantic's ValidationError is one
        print(f"beat: invalid settings: {err}", file=sys.stderr)
        return 2
    except EmbeddedBrokerError as err:
        print(f"beat: {err}", file=sys.stderr)
        return 2
    return run_beat(settings, args.interval, lease=args.lease, leader_lock=not args.no_leader_lock)


def run_beat(settings: Settings, interval: float, *, lease: float = 5.0, leader_lock: bool = True) -> int:
    # Imported here so that --help works without the database layer.
    from beat.clock import clock_from_env
    from beat.leader import LeaderElection
    from beat.loop import Beat
    from engine.heap import freeze_startup_objects, tune_collector
    from engine.persistence.leader import LeaderRepository
    from engine.log_config import configure_logging
    from engine.services import build_services
    from worker.celery_app import make_celery
    from worker.dispatch import CeleryDispatcher

    configure_logging(settings.log_format, settings.log_level, process="beat")
    clock = clock_from_env(os.environ)
    services = build_services(settings, CeleryDispatcher(make_celery(settings)), clock=clock)
    leader = LeaderElection(LeaderRepository(services.env.db), lease=lease) if leader_lock else None
    beat = Beat(services, interval=interval, clock=clock, leader=leader)
    tune_collector()
    freeze_startup_objects()

    def stop(signum: int, frame: FrameType | None) -> None:
        beat.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"podium beat: ticking every {interval}s against {settings.resolved_database_url}", flush=True)
    try:
        beat.run()
    finally:
        beat.release()
    print("podium beat: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
