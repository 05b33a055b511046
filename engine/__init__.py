"""Podium's engine: everything the web, executor, worker and beat processes and the CLI share.

It imports none of them, nor Flask or Celery; engine/README.md describes its layers.
"""
