"""The worker process: Celery workers that run runnable task runs (Log, HTTP, scripts, SQL...).

- ``command.py``: ``podium worker`` (``python -m worker`` runs the same command);
- ``process.py``: the process, a Celery worker on the task run queues (prefork pool);
- ``tasks.py``: its thin Celery tasks, ``podium.run_task_run`` and ``podium.run_task_runs``;
- ``celery_app.py``: its app for ``celery -A worker.celery_app`` (and Flower);
- ``services.py``: the worker's services, over the shared ``engine.services`` ones;
- ``batches.py``: the batch/chunk/join protocol, told end to end in its docstring; with
  ``batch_results.py`` (result writes, the join's announcement), ``carried_outputs.py`` (what a
  chain link hands the next) and ``lease_keeper.py`` (claims, heartbeats, the result outbox);
- ``task_runs.py``: one attempt, with ``attempt_logs.py`` and ``working_directory.py``;
- ``inline.py``: a dispatcher that runs executor and worker in the calling thread (tests, bench).

The Celery app factory, the dispatcher and the transports that every process shares are in
``messaging/``. See docs/celery.md.
"""
