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

The event handling only this process runs (one event applied to its execution, with the turns
its threads take on one execution) is in ``engine/services/executor_events.py`` rather than
here: ``podium.process_event`` reaches it through ``Services.handle_event``, and so do the inline
dispatcher of the tests (worker/inline.py), the CLI's embedded runtime and the tests' stand-in
services; the facade is in engine/, which never imports executor/. Moving it here would mean
building the executor's handler beside the services in every one of those places, a rewiring of
the callers rather than a move.
"""
