"""The worker process: Celery workers that run runnable task runs (Log, HTTP, scripts, SQL...).

- ``command.py``: ``podium worker`` (``python -m worker`` runs the same command);
- ``process.py``: the process, a Celery worker on the task run queues (prefork pool);
- ``tasks.py``: its thin Celery tasks, ``podium.run_task_run`` and ``podium.run_task_runs``;
- ``celery_app.py``: its app for ``celery -A worker.celery_app`` (and Flower).

The Celery app factory, the dispatcher and the transports that every process shares are in
``messaging/``. See docs/celery.md.
"""
