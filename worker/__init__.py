"""The worker process: Celery workers that run runnable task runs (Log, HTTP, scripts, SQL...).

Celery tasks are thin and pass ids; the Celery app comes from ``make_celery(settings)``.

Modules: ``celery_app`` (``make_celery(settings)``, lazy ``app`` for the CLI), ``tasks`` (the thin
``podium.run_task_run`` / ``podium.process_event``), ``dispatch`` (``CeleryDispatcher``), ``kills``,
``embedded`` (``EmbeddedRuntime``: everything in one process on memory://), ``fs_transport``
(``podium-fs://``), ``processes`` and ``health``. See docs/celery.md.
"""
