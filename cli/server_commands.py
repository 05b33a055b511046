"""``podium server local``: executor, worker and beat in this process on the embedded broker
(``podium-fs://``, folders under the data folder, so CLI commands and extra ``podium worker``
processes on this machine join it), plus a ``GET /health`` endpoint. It prints what it started and
stops cleanly on Ctrl-C. The separate processes of a shared broker have their own folders and
commands (``podium executor``, ``podium worker``, ``podium beat``).
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.command import web_command
from engine.command_options import CONFIG_OPTION, DATA_DIR_OPTION, Refused, settings_or_refuse
from engine.credentials import without_password

if TYPE_CHECKING:
    from cli.embedded import EmbeddedRuntime
    from cli.health_server import Check, HealthServer
    from engine.services import Services
    from engine.services.watch import FolderWatcher, WatchEvent
    from engine.settings import Settings


@click.group("server")
def server_group() -> None:
    """Run Podium servers."""


@server_group.command("local")
@CONFIG_OPTION
@click.option("--flows", "flows_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Deploy every flow of this folder, and keep watching it.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port of GET /health on 127.0.0.1; 0 picks a free one (printed).")
@DATA_DIR_OPTION
def server_local_command(config_file: Path | None, flows_dir: Path | None, port: int,
                         data_dir: Path | None) -> None:
    """Executor, worker and beat in this process, on the embedded broker and SQLite.

    \b
    The embedded broker (podium-fs://) keeps its messages under DATA_DIR/broker, so that from
    another terminal `podium execution start|kill|resume ... --data-dir DATA_DIR` reach this
    server, and `podium worker --data-dir DATA_DIR` adds workers, with no Redis.
    """
    settings = _local_settings(config_file, data_dir)
    _serve_local(settings, flows_dir, port)


def _local_settings(config_file: Path | None, data_dir: Path | None) -> Settings:
    settings = settings_or_refuse(config_file, data_dir=data_dir)
    if not settings.is_embedded_broker:
        raise Refused(
            f"server local hosts the embedded broker (podium-fs://, the default), but the settings name "
            f"{without_password(settings.resolved_broker_url)}; unset PODIUM_BROKER_URL (or broker_url in the "
            "settings file), or start `podium executor`, `podium worker` and `podium beat` for that broker.")
    return settings


def _serve_local(settings: Settings, flows_dir: Path | None, port: int) -> None:
    from cli.embedded import EmbeddedRuntime
    from engine.services import build_services

    # Bind the port first (a busy port fails fast); the check is known once the runtime started.
    check: list[Check] = []
    health = _bind_health(lambda: check[0](), port)
    stop = _stop_on_signals()
    runtime = EmbeddedRuntime(settings, lambda dispatcher: build_services(settings, dispatcher), quiet=True)
    try:
        with runtime:
            _announce(settings)
            watcher = _watch(runtime.services, flows_dir)
            check.append(_local_health(settings, runtime))
            try:
                with health:
                    click.echo(f"  health: http://127.0.0.1:{health.port}/health    Ctrl-C to stop")
                    stop.wait()
                    click.echo("podium server local: stopping (running task runs finish first; "
                               "Ctrl-C again to stop at once)...")
            finally:
                if watcher is not None:
                    watcher.stop()
    except RuntimeError as err:  # a task run that would not end within the stop timeout
        raise click.ClickException(f"{err}; its task run is re-run after the next start") from None
    click.echo("podium server local: stopped")


def _bind_health(check: Check, port: int) -> HealthServer:
    from cli.health_server import HealthServer

    try:
        return HealthServer(check, port)
    except OSError as err:
        raise click.ClickException(f"cannot serve /health on 127.0.0.1:{port} ({err.strerror}); "
                                   "pass another --port, or --port 0 for a free one") from None


def _announce(settings: Settings) -> None:
    from messaging.processes import broker_label, database_label

    click.echo(f"podium server local: executor + worker ({settings.worker.concurrency} slots) + beat "
               f"on {broker_label(settings)}, database {database_label(settings)}")
    if settings.is_in_process_broker:
        click.echo("  note: on memory:// other processes cannot reach this server (podium execution "
                   "kill/resume..., podium worker); unset PODIUM_BROKER_URL to use podium-fs://", err=True)
    else:
        click.echo(f"  operate it from another terminal: podium execution list --data-dir {settings.data_dir}")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: the user does not want to wait for running task runs
            click.echo("podium server local: stopped at once; unfinished task runs re-run after the next start",
                       err=True)
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _watch(services: Services, flows_dir: Path | None) -> FolderWatcher | None:
    """Deploys the flows folder and keeps watching it; prints what it deploys and refuses."""
    if flows_dir is None:
        return None
    watcher = services.watch_folder(flows_dir, report=_print_watch_event)
    first = watcher.initial
    assert first is not None  # watch_folder deploys the folder before it returns the watcher
    deployed = len(first.of_kind("deployed")) + len(first.of_kind("unchanged"))
    refused = len(first.of_kind("refused")) + len(first.of_kind("error"))
    click.echo(f"  flows: {deployed} deployed from {flows_dir}"
               + (f", {refused} refused" if refused else "") + "; watching for changes")
    return watcher


def _print_watch_event(event: WatchEvent) -> None:
    problem = event.kind in ("refused", "error")
    click.echo(f"  flows: {event.message}", err=problem)


def _local_health(settings: Settings, runtime: EmbeddedRuntime) -> Check:
    from sqlalchemy import create_engine, text

    from cli.health_server import health_check

    engine = create_engine(settings.resolved_database_url)

    def database() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def broker() -> None:
        with runtime.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)

    return health_check(database, broker, without_password(settings.resolved_broker_url))


server_group.add_command(web_command)

commands = [server_group]
