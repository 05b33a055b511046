"""The executor process: consumes execution events, applies ``engine.executor.advance`` under a row
lock, saves, then dispatches the resulting commands after commit. The only writer of execution
state transitions.

- ``command.py``: ``podium executor`` (``python -m executor`` runs the same command);
- ``process.py``: the process, a Celery worker on the ``executor`` queue (threads pool);
- ``tasks.py``: its one Celery task, ``podium.process_event``;
- ``services.py``: ``ExecutorServices``, its entry point over the shared services;
- ``event_handler.py``: one event applied to its execution (the lock, ``advance_all`` with the
  results waiting in the outbox, the save, the commands after the commit);
- ``turns.py``: which executions a thread of this process is stepping, so that its threads take
  turns on an execution instead of queueing on its row lock;
- ``celery_app.py``: its app for ``celery -A executor.celery_app``.

The step shell the event handler ends in (save, then carry out the commands after the commit) is a
shared use case, ``engine.services.executions``: whoever creates, kills or resumes an execution
applies that step the same way.
"""
