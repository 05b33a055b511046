"""``podium worker`` (also ``python -m worker``): start a worker process."""
from __future__ import annotations

from pathlib import Path

import click

from engine.command_options import CONFIG_OPTION, DATA_DIR_OPTION, Refused, settings_or_refuse


@click.command("worker")
@CONFIG_OPTION
@click.option("-Q", "--queues", help="Comma-separated queues (worker groups); default: settings.worker.queues.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), help="Task runs at once.")
@click.option("-P", "--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork",
              show_default=True, help="Celery pool; prefork lets a kill stop a running task run.")
@DATA_DIR_OPTION
def worker_command(config_file: Path | None, queues: str | None, concurrency: int | None, pool: str,
                   data_dir: Path | None) -> None:
    """Run a worker: Celery consuming task runs from the default queue or worker groups."""
    from messaging.processes import EmbeddedBrokerError  # Celery is imported only to run
    from worker.process import run_worker

    settings = settings_or_refuse(config_file, data_dir=data_dir)
    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    try:
        run_worker(settings, queue_list, concurrency, pool)
    except EmbeddedBrokerError as err:
        raise Refused(str(err)) from None
