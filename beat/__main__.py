"""``python -m beat``: Podium's beat process (timers, lease reaper) until Ctrl-C."""
from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from engine.settings import Settings, load_settings
from worker.processes import EmbeddedBrokerError, require_shared_broker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m beat", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (default: PODIUM_CONFIG)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between ticks")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    try:
        require_shared_broker(settings)
    except EmbeddedBrokerError as err:
        print(f"beat: {err}", file=sys.stderr)
        return 2
    return run_beat(settings, args.interval)


def run_beat(settings: Settings, interval: float) -> int:
    # Imported here so that --help works without the database layer.
    from beat.loop import Beat
    from engine.log_config import configure_logging
    from engine.services import build_services
    from worker.celery_app import make_celery
    from worker.dispatch import CeleryDispatcher

    configure_logging(settings.log_format, settings.log_level, process="beat")
    services = build_services(settings, CeleryDispatcher(make_celery(settings)))
    beat = Beat(services, interval=interval)

    def stop(signum: int, frame: FrameType | None) -> None:
        beat.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"podium beat: ticking every {interval}s against {settings.resolved_database_url}", flush=True)
    beat.run()
    print("podium beat: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
