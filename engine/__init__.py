"""Podium's engine: everything the web, executor, worker and beat processes share.

It imports neither Flask nor Celery; see engine/README.md for its layers.
"""
