"""The executor process: consumes execution events, applies ``engine.executor.advance`` under a row
lock, saves, then dispatches the resulting commands after commit. The only writer of execution
state transitions.

Start it with ``python -m executor`` (a Celery worker on the ``executor`` queue, threads pool) or
``celery -A worker.celery_app worker -Q executor``.
"""
