"""The worker process: a Celery worker consuming task runs from its queues until Ctrl-C."""
from __future__ import annotations

from collections.abc import Sequence

from engine.settings import Settings
from messaging.processes import build_process_app, require_shared_broker, run_celery_worker
from worker.tasks import register_worker_tasks


def run_worker(settings: Settings, queues: Sequence[str] | None = None, concurrency: int | None = None,
               pool: str = "prefork") -> None:
    """Runs task runs until stopped; raises ``EmbeddedBrokerError`` on ``memory://``."""
    require_shared_broker(settings)
    app = build_process_app(settings, "worker", register_worker_tasks)
    # Prefork by default: a kill can then SIGTERM the child process running a task run.
    run_celery_worker(settings, app, list(queues or settings.worker.queues),
                      concurrency or settings.worker.concurrency, pool=pool, name="worker")
