"""The executor process: consumes execution events, applies ``engine.executor.advance`` under a row
lock, saves, then dispatches the resulting commands after commit. The only writer of execution
state transitions.

- ``command.py``: ``podium executor`` (``python -m executor`` runs the same command);
- ``process.py``: the process, a Celery worker on the ``executor`` queue (threads pool);
- ``tasks.py``: its one Celery task, ``podium.process_event``;
- ``celery_app.py``: its app for ``celery -A executor.celery_app``.

The step shell it runs (lock, ``advance``, save, dispatch after commit) is a shared use case in
``engine/services/executions.py``: whoever starts, kills or resumes an execution applies its first
step the same way.
"""
