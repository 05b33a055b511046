"""Podium on Celery, shared by every process: the app factory (``make_celery``), the task names,
the dispatcher the executor and beat send work with (``CeleryDispatcher``), kills, the embedded
``podium-fs://`` and faster Redis transports, and how a standalone Celery process starts and lives.

It sits above ``engine/`` (which never imports Celery) and below the process folders. See
docs/celery.md.
"""
