"""``EmbeddedRuntime``, executor + worker + beat inside one process on an embedded broker.

Used by ``podium server local`` (on ``podium-fs://``, folders under ``data_dir/broker`` that
other processes of this machine share: CLI commands, extra ``podium worker`` processes) and by
``podium run`` (on ``memory://``, private to the process and the fastest). A Celery worker
(threads pool) consumes the executor and default queues in a background thread, and an optional
beat thread calls ``fire_due_timers(now)`` / ``reap_expired_leases(now)`` every ``beat_interval``
seconds. Leaving the ``with`` block stops both and waits for their threads.

Messages of ``memory://`` die with the process; those of ``podium-fs://`` wait in their folder
for the next start (the database is the source of truth either way: the reaper re-dispatches
lost work). :class:`WorkerThread` is also usable on its own, on any broker (tests run one on Redis).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

from celery import Celery
from celery import _state as celery_state
from celery.worker import WorkController
from celery.worker import state as worker_state

from engine.credentials import without_password
from engine.dispatch import DEFAULT_QUEUE, EXECUTOR_QUEUE
from engine.settings import Settings
from executor.tasks import register_executor_tasks
from messaging.celery_app import make_celery
from messaging.dispatch import CeleryDispatcher
from messaging.fs_transport import forget_mailbox
from messaging.lazy_services import LazyServices
from worker.tasks import register_worker_tasks

if TYPE_CHECKING:
    from engine.dispatch import Dispatcher
    from engine.services import Services

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30.0
QUIET_LOGGERS = ("celery", "kombu", "amqp")
WAKE_TASK = "podium.embedded_wake"
#: A queue only embedded worker threads consume: its no-op messages end a poll so a stop is quick.
WAKE_QUEUE = "podium-embedded-wake"
BEAT_RETRY_SECONDS = 5.0


class WorkerThread:
    """A Celery worker (threads pool) consuming ``queues`` of ``app`` in a background thread.

    Celery keeps a worker's stop flags and its default app process-wide, so run one at a time.
    """

    def __init__(self, app: Celery, queues: list[str], *, concurrency: int = 4, quiet: bool = True,
                 hostname: str | None = None) -> None:
        self.app = app
        self.queues = queues if WAKE_QUEUE in queues else [*queues, WAKE_QUEUE]
        self.concurrency = concurrency
        self.quiet = quiet
        self.hostname = hostname or f"podium-thread-{time.monotonic_ns()}@{socket.gethostname()}"
        if WAKE_TASK not in app.tasks:
            app.task(name=WAKE_TASK, shared=False)(_wake)
        self._thread: threading.Thread | None = None
        self._previous_default: Celery | None = None

    def start(self) -> None:
        # The threads pool traces tasks through Celery's default app, so ours must be it.
        self._previous_default = celery_state.default_app
        self.app.set_default()
        worker_state.should_stop = None
        ready = threading.Event()
        # A WorkController installs no signal handlers, unlike the worker of Celery's command line.
        worker = WorkController(
            app=self.app, hostname=self.hostname, pool="threads", concurrency=self.concurrency,
            queues=self.queues, loglevel="ERROR" if self.quiet else "INFO",
            without_heartbeat=True, without_mingle=True, without_gossip=True,
            ready_callback=lambda consumer: ready.set())
        self._thread = threading.Thread(target=worker.start, name=f"celery-{self.hostname}", daemon=True)
        self._thread.start()
        if not ready.wait(STOP_TIMEOUT_SECONDS):
            raise RuntimeError(f"the Celery worker {self.hostname} did not start")

    def stop(self) -> None:
        if self._thread is None:
            return
        # Warm shutdown: the consumer loop sees the flag, stops fetching and waits for running
        # tasks. Its sync loop polls the broker once more (up to 2 s) after seeing the flag; a
        # no-op message on a queue no other process reads ends each poll at once.
        worker_state.should_stop = 0
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while self._thread.is_alive() and time.monotonic() < deadline:
            self.app.signature(WAKE_TASK, queue=WAKE_QUEUE).apply_async()
            self._thread.join(0.05)
        worker_state.should_stop = None
        _purge(self.app, [WAKE_QUEUE])  # wake-ups the worker did not need
        forget_mailbox(self.app, self.hostname)
        celery_state.default_app = self._previous_default
        alive, self._thread = self._thread.is_alive(), None
        if alive:
            raise RuntimeError(f"the Celery worker {self.hostname} did not stop")

    def __enter__(self) -> WorkerThread:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class EmbeddedRuntime:
    """Context manager running a Celery worker (and beat) in this process on an embedded broker
    (``memory://`` or ``podium-fs://``; a network broker is refused).

    ``services_provider`` receives the runtime's dispatcher and returns the shared services; it is
    called once, lazily, from the first task or beat tick (or from :attr:`services`). The worker's
    tasks run on the worker's services over them (``worker.services``).
    """

    def __init__(self, settings: Settings, services_provider: Callable[[Dispatcher], Services], *,
                 beat: bool = True, beat_interval: float = 0.1, quiet: bool = True) -> None:
        if not settings.is_embedded_broker:
            raise ValueError(f"the embedded runtime runs on podium-fs:// or memory://, not "
                             f"{without_password(settings.resolved_broker_url)}; start separate processes "
                             "(podium executor / worker / beat) for that broker")
        self.settings = settings
        self.app: Celery = make_celery(settings, name="podium-embedded")
        self.dispatcher = CeleryDispatcher(self.app, batches=settings.worker.batch_seconds > 0)
        self._services = LazyServices(lambda: services_provider(self.dispatcher))
        register_tasks(self.app, self._services)
        self.queues = _default_queues(settings)
        self.quiet = quiet
        self.beat_interval = beat_interval
        self._with_beat = beat
        # Executor events and task runs share one pool, sized for both.
        self._worker = WorkerThread(
            self.app, self.queues, quiet=quiet, hostname=f"embedded-{time.monotonic_ns()}@{socket.gethostname()}",
            concurrency=settings.worker.concurrency + settings.executor.concurrency)
        self._beat: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def services(self) -> Services:
        return self._services.get()

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self.quiet:
            for name in QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
        self._stopping.clear()
        if self.settings.is_in_process_broker:
            # memory:// queues are process-global: a previous runtime may have left messages behind.
            # podium-fs:// messages are kept: they were sent for this instance while it was down.
            _purge(self.app, self.queues)
        self._worker.start()
        if self._with_beat:
            self._beat = threading.Thread(target=self._beat_loop, name="podium-embedded-beat", daemon=True)
            self._beat.start()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._worker.stop()
        finally:
            if self._beat is not None:
                self._beat.join(STOP_TIMEOUT_SECONDS)
                self._beat = None

    def _beat_loop(self) -> None:
        delay = self.beat_interval
        while not self._stopping.wait(delay):
            now = datetime.now(UTC)
            try:
                self.services.fire_due_timers(now)
                self.services.reap_expired_leases(now)
                self.services.fire_schedules(now)
                self.services.advance_backfills(now)
                delay = self.beat_interval
            except Exception:  # one bad tick must not stop the beat
                logger.exception("embedded beat tick failed")
                delay = max(self.beat_interval, BEAT_RETRY_SECONDS)  # don't flood the console



def register_tasks(app: Celery, services: LazyServices[Services] | Callable[[], Services]) -> LazyServices[Services]:
    """Every Podium task on one app: the executor's and the worker's, as one process runs both
    (the worker's on the worker's services over ``services``, which kills reach)."""
    lazy = services if isinstance(services, LazyServices) else LazyServices(services)
    register_executor_tasks(app, lazy)
    register_worker_tasks(app, lazy)
    return lazy


def _purge(app: Celery, queues: list[str]) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            channel.queue_declare(queue)
            channel.queue_purge(queue)


def _wake() -> None:
    """No-op task: its message ends the worker's broker poll so that a stop takes effect now."""


def _default_queues(settings: Settings) -> list[str]:
    extra = [queue for queue in settings.worker.queues if queue not in (EXECUTOR_QUEUE, DEFAULT_QUEUE)]
    return [EXECUTOR_QUEUE, DEFAULT_QUEUE, *extra]
