"""What the standalone processes (executor, worker, beat) share to start on a shared broker: the
refusal of ``memory://``, a process's Celery app with its tasks, and the Celery worker's life.

A standalone process needs a broker other processes can reach: the embedded default
``podium-fs://`` (folders under ``data_dir/broker``, one machine) or Redis. ``memory://`` only
connects threads of one process, so it is refused with a hint.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from engine.credentials import without_password
from engine.heap import freeze_startup_objects, tune_collector
from engine.settings import Settings, load_settings
from messaging.celery_app import make_celery
from messaging.dispatch import CeleryDispatcher
from messaging.fs_transport import FS_SCHEME, forget_mailbox
from messaging.lazy_services import LazyServices
from messaging.observability import log_through_podium

if TYPE_CHECKING:
    from celery.worker import WorkController
    from celery.worker.consumer import Consumer

    from engine.services import Services

#: Adds a process's Celery tasks to its app; they reach the services through the LazyServices.
TaskRegistration = Callable[[Celery, "LazyServices[Services]"], None]

EMBEDDED_HINT = ("the broker is memory://, which only connects the threads of one process. "
                 "Unset PODIUM_BROKER_URL (or broker_url in the settings file) to use the default "
                 "podium-fs:// broker under the data folder, shared by every process on this machine, "
                 "or set it to redis://HOST:6379/0; `podium server local` runs everything in one process.")


class EmbeddedBrokerError(RuntimeError):
    """A standalone process was asked to run on the in-process memory:// broker."""


def require_shared_broker(settings: Settings) -> None:
    """Refuses ``memory://``; ``podium-fs://`` and network brokers reach other processes."""
    if settings.is_in_process_broker:
        raise EmbeddedBrokerError(EMBEDDED_HINT)


def worker_argv(queues: Sequence[str], concurrency: int, *, pool: str, name: str,
                loglevel: str = "INFO") -> list[str]:
    """Arguments of ``celery worker`` for one Podium worker process."""
    return ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-P", pool,
            "-n", f"{name}@{socket.gethostname()}", "-l", loglevel]


def build_process_app(settings: Settings, process: str, register: TaskRegistration) -> Celery:
    """The Celery app of one standalone process: its tasks registered, the real services built on
    first use (in each prefork child), its log lines naming ``process``."""
    app = make_celery(settings)
    dispatcher = CeleryDispatcher(app, batches=settings.worker.batch_seconds > 0)

    def build_real_services() -> Services:
        # Imported on first use: the database layer is not needed to start or to print --help.
        from engine.services import build_services
        return build_services(settings, dispatcher)

    register(app, LazyServices(build_real_services))
    log_through_podium(app, settings, process)
    return app


class LazyApp:
    """The module attribute ``app`` that ``celery -A executor.celery_app`` (or worker's) reads,
    built on first access from the settings of the environment."""

    def __init__(self, process: str, register: TaskRegistration) -> None:
        self._process = process
        self._register = register
        self._lock = threading.Lock()
        self._app: Celery | None = None

    def get(self) -> Celery:
        with self._lock:
            if self._app is None:
                self._app = build_process_app(load_settings(), self._process, self._register)
            return self._app


def run_celery_worker(settings: Settings, app: Celery, queues: Sequence[str], concurrency: int, *,
                      pool: str, name: str) -> None:
    """Runs a Celery worker in the foreground until Ctrl-C / SIGTERM (warm shutdown).

    Exits with the Celery worker's exit code, or starts the process again after a crash
    (``_WorkerLife``).
    """
    require_shared_broker(settings)
    tune_collector()
    worker_ready.connect(lambda **_: freeze_startup_objects(), weak=False)
    if settings.resolved_broker_url.startswith(FS_SCHEME):
        # On podium-fs each worker needs its own remote-control queue (one queue = one reader, so
        # two workers named alike would split the kill broadcasts), removed again on shutdown.
        name = f"{name}-{os.getpid()}"
        worker_shutdown.connect(lambda **_: forget_mailbox(app, f"{name}@{socket.gethostname()}"),
                                weak=False, sender=None)
    print(f"podium {name}: queues {', '.join(queues)} on {broker_label(settings)}, "
          f"{concurrency} {pool} slot(s)", flush=True)
    life = _WorkerLife()
    app.worker_main(worker_argv(queues, concurrency, pool=pool, name=name, loglevel=settings.log_level))
    if life.crashed():
        _start_again(name, life.exit_code(), ran_for=life.ran_for())
    raise SystemExit(life.exit_code())


RESTARTS_VARIABLE = "PODIUM_PROCESS_RESTARTS"
_log = logging.getLogger("podium.process")


class _WorkerLife:
    """Whether a Celery worker that stopped was asked to (a signal) or crashed after it was ready.

    Kombu's Redis transport can raise a plain ``AttributeError`` while it closes a channel whose
    connection Redis just dropped (a race between threads); Celery treats that as an
    "Unrecoverable error" and stops the worker for good. The process starts itself again so
    that a Redis restart never leaves an installation without its executor or workers.
    """

    def __init__(self) -> None:
        self.ready_at: float | None = None
        self.controller: WorkController | None = None  # holds the exit code
        self.asked_to_stop = False
        worker_ready.connect(self._on_ready, weak=False)
        worker_shutting_down.connect(self._on_shutting_down, weak=False)

    def _on_ready(self, sender: Consumer | None = None, **_: Any) -> None:
        self.ready_at = time.monotonic()
        self.controller = getattr(sender, "controller", None)

    def _on_shutting_down(self, **_: Any) -> None:
        self.asked_to_stop = True

    def exit_code(self) -> int:
        # app.worker_main drops the code Celery's worker command ends with; the controller has it.
        return int(getattr(self.controller, "exitcode", None) or 0)

    def crashed(self) -> bool:
        # Not ready yet means bad settings or arguments: starting again would fail the same way.
        return self.exit_code() != 0 and self.ready_at is not None and not self.asked_to_stop

    def ran_for(self) -> float:
        return 0.0 if self.ready_at is None else time.monotonic() - self.ready_at


def _start_again(name: str, code: object, *, ran_for: float) -> None:
    """Replaces this process with a fresh copy of itself (same pid, same arguments).

    The pause doubles while the crashes come back quickly (1 s up to 30 s) and starts over
    after a copy that ran for a few minutes.
    """
    previous = 0 if ran_for > 300 else int(os.environ.get(RESTARTS_VARIABLE, "0"))
    restarts = previous + 1
    delay = min(30.0, 2.0 ** min(restarts - 1, 5))
    _log.error("podium %s stopped on an unrecoverable error (exit code %s); starting it again in "
               "%.0f s (restart %d)", name, code, delay, restarts)
    time.sleep(delay)
    os.environ[RESTARTS_VARIABLE] = str(restarts)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, sys.orig_argv)


def broker_label(settings: Settings) -> str:
    """The broker for printing: no password; the folder of ``podium-fs://``."""
    url = settings.resolved_broker_url
    if url.startswith(FS_SCHEME):
        return f"{url} ({(settings.data_dir / 'broker').resolve()})"
    return without_password(url)


def database_label(settings: Settings) -> str:
    """The database URL for printing: no password."""
    return without_password(settings.resolved_database_url)
