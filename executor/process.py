"""The executor process: a Celery worker on the executor queue, threads pool, until Ctrl-C."""
from __future__ import annotations

from engine.dispatch import EXECUTOR_QUEUE
from engine.settings import Settings
from executor.tasks import register_executor_tasks
from messaging.processes import build_process_app, require_shared_broker, run_celery_worker


def run_executor(settings: Settings) -> None:
    """Consumes execution events until stopped; raises ``EmbeddedBrokerError`` on ``memory://``."""
    require_shared_broker(settings)
    app = build_process_app(settings, "executor", register_executor_tasks)
    # Threads: the executor's work is short database transactions, no CPU-bound code.
    run_celery_worker(settings, app, [EXECUTOR_QUEUE], settings.executor.concurrency, pool="threads",
                      name="executor")
