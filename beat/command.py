"""``podium beat`` (also ``python -m beat``): start the beat process."""
from __future__ import annotations

from pathlib import Path

import click

from engine.command_options import CONFIG_OPTION, DATA_DIR_OPTION, Refused, settings_or_refuse


@click.command("beat")
@CONFIG_OPTION
@click.option("--interval", type=float, default=0.2, show_default=True, help="Seconds between ticks.")
@click.option("--lease", type=float, default=5.0, show_default=True,
              help="Seconds a dead leader keeps the beat lock before a standby takes over.")
@click.option("--no-leader-lock", is_flag=True, help="Tick even when another beat leads (tests of idempotency only).")
@DATA_DIR_OPTION
def beat_command(config_file: Path | None, interval: float, lease: float, no_leader_lock: bool,
                 data_dir: Path | None) -> None:
    """Run beat: fires timers (retries, pauses, schedules), backfills, and reaps lost task runs."""
    from beat.process import run_beat
    from messaging.processes import EmbeddedBrokerError, require_shared_broker

    settings = settings_or_refuse(config_file, data_dir=data_dir)
    try:
        require_shared_broker(settings)
    except EmbeddedBrokerError as err:
        raise Refused(str(err)) from None
    raise SystemExit(run_beat(settings, interval, lease=lease, leader_lock=not no_leader_lock))
