"""``podium server web``: the web process, ``create_app`` served by gunicorn."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import click

from engine.command_options import CONFIG_OPTION, DATA_DIR_OPTION, Refused, settings_or_refuse


@click.command("web")
@CONFIG_OPTION
@click.option("--bind", default="127.0.0.1:8080", show_default=True, help="Address and port (HOST:PORT).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True, help="Threads per worker.")
@DATA_DIR_OPTION
def web_command(config_file: Path | None, bind: str, workers: int, threads: int, data_dir: Path | None) -> None:
    """Run the web process: the Flask app (health, metrics, API) under gunicorn until Ctrl-C."""
    settings = settings_or_refuse(config_file, data_dir=data_dir)  # one line here, not a worker crash
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded default's SQLite file lives there
    if importlib.util.find_spec("gunicorn") is None:
        raise Refused("the web process needs gunicorn: pip install -e '.[ops]'")
    # gunicorn's workers build the app from the environment, as `gunicorn 'app:create_app()'` does.
    if config_file is not None:
        os.environ["PODIUM_CONFIG"] = str(config_file)
    if data_dir is not None:
        os.environ["PODIUM_DATA_DIR"] = str(data_dir)
    argv = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
            "--threads", str(threads), "app:create_app()"]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
