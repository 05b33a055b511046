"""``podium executor`` (also ``python -m executor``): start the executor process."""
from __future__ import annotations

from pathlib import Path

import click

from engine.command_options import CONFIG_OPTION, DATA_DIR_OPTION, Refused, settings_or_refuse


@click.command("executor")
@CONFIG_OPTION
@DATA_DIR_OPTION
def executor_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Run the executor: a Celery worker on the executor queue (threads pool) until Ctrl-C."""
    from executor.process import run_executor  # Celery is imported only to run, not for --help
    from messaging.processes import EmbeddedBrokerError

    settings = settings_or_refuse(config_file, data_dir=data_dir)
    try:
        run_executor(settings)
    except EmbeddedBrokerError as err:
        raise Refused(str(err)) from None
