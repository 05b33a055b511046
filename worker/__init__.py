"""The worker process: Celery workers that run runnable task runs (Log, HTTP, scripts, SQL...).

Celery tasks are thin and pass ids; the Celery app comes from ``make_celery(settings)``.
"""
