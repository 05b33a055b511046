"""L4: ``podium executor | worker | beat | server local``: start Podium's processes.

``server local`` runs everything in this process on the embedded memory:// broker (plus a
``GET /health`` endpoint); the others are the separate processes of a shared broker deployment.
Each prints what it started and stops cleanly on Ctrl-C.
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from engine.settings import Settings, load_settings

CONFIG_OPTION = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                             help="YAML settings file (default: PODIUM_CONFIG).")


def _settings(config_file: Path | None, **overrides: Any) -> Settings:
    return load_settings(config_file, **{k: v for k, v in overrides.items() if v is not None})


def _run_or_explain(start: Any, *args: Any, **kwargs: Any) -> None:
    from worker.processes import EmbeddedBrokerError

    try:
        start(*args, **kwargs)
    except EmbeddedBrokerError as err:
        raise click.ClickException(str(err)) from err


@click.command("executor")
@CONFIG_OPTION
def executor_command(config_file: Path | None) -> None:
    """Run the executor: a Celery worker on the executor queue."""
    from worker.processes import run_executor

    _run_or_explain(run_executor, _settings(config_file))


@click.command("worker")
@CONFIG_OPTION
@click.option("-Q", "--queues", help="Comma-separated queues (worker groups); default: settings.worker.queues.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), help="Task runs at once.")
@click.option("-P", "--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork",
              show_default=True, help="Celery pool; prefork lets a kill stop a running task run.")
def worker_command(config_file: Path | None, queues: str | None, concurrency: int | None, pool: str) -> None:
    """Run a worker: Celery consuming task runs from the default queue or worker groups."""
    from worker.processes import run_worker

    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    _run_or_explain(run_worker, _settings(config_file), queue_list, concurrency, pool)


@click.command("beat")
@CONFIG_OPTION
@click.option("--interval", type=float, default=0.2, show_default=True, help="Seconds between ticks.")
def beat_command(config_file: Path | None, interval: float) -> None:
    """Run beat: fires timers (retries, pauses, schedules) and reaps lost task runs."""
    from beat.__main__ import run_beat
    from worker.processes import require_shared_broker

    settings = _settings(config_file)
    _run_or_explain(require_shared_broker, settings)
    run_beat(settings, interval)


@click.group("server")
def server_group() -> None:
    """Run Podium servers."""


@server_group.command("local")
@CONFIG_OPTION
@click.option("--flows", "flows_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Deploy every flow of this folder, and keep watching it.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port of GET /health on 127.0.0.1.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Database, broker and files folder (default: settings.data_dir).")
def server_local_command(config_file: Path | None, flows_dir: Path | None, port: int,
                         data_dir: Path | None) -> None:
    """Executor, worker and beat in this process, on the embedded broker and SQLite."""
    settings = _settings(config_file, data_dir=data_dir)
    if not settings.is_embedded_broker:
        raise click.ClickException(
            f"server local runs on the embedded memory:// broker, but the settings name "
            f"{settings.resolved_broker_url}; start `podium executor`, `podium worker` and `podium beat`.")
    _serve_local(settings, flows_dir, port)


def _serve_local(settings: Settings, flows_dir: Path | None, port: int) -> None:
    from engine.services import build_services
    from worker.embedded import EmbeddedRuntime
    from worker.health import HealthServer

    stop = _stop_on_signals()
    runtime = EmbeddedRuntime(settings, lambda dispatcher: build_services(settings, dispatcher), quiet=True)
    with runtime:
        services = runtime.services
        watcher = _deploy(services, flows_dir)
        with HealthServer(_local_health(settings, runtime), port) as health:
            click.echo(f"podium server local: executor + worker ({settings.worker.concurrency} slots) + beat "
                       f"on {settings.resolved_broker_url}, database {settings.resolved_database_url}")
            click.echo(f"  health: http://127.0.0.1:{health.port}/health    Ctrl-C to stop")
            stop.wait()
            click.echo("podium server local: stopping...")
            _stop_watcher(watcher)
    click.echo("podium server local: stopped")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _deploy(services: Any, flows_dir: Path | None) -> Any:
    """Deploys the flows folder and starts watching it, when the services offer it."""
    if flows_dir is None:
        return None
    deploy = getattr(services, "deploy_folder", None)
    if callable(deploy):
        result = deploy(flows_dir)
        deployed, problems = result if isinstance(result, tuple) and len(result) == 2 else (result, [])
        click.echo(f"  flows: {len(deployed or [])} deployed from {flows_dir}"
                   + (f", {len(problems)} problem(s)" if problems else ""))
        for problem in problems or []:
            click.echo(f"    {problem}", err=True)
    watch = getattr(services, "watch_folder", None)
    return watch(flows_dir) if callable(watch) else None


def _stop_watcher(watcher: Any) -> None:
    for name in ("stop", "close"):
        method = getattr(watcher, name, None)
        if callable(method):
            method()
            return


def _local_health(settings: Settings, runtime: Any) -> Any:
    from sqlalchemy import create_engine, text

    from worker.health import health_check

    engine = create_engine(settings.resolved_database_url)

    def database() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def broker() -> None:
        with runtime.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)

    return health_check(database, broker, settings.resolved_broker_url)


commands = [executor_command, worker_command, beat_command, server_group]
