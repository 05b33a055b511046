"""The web process: Flask REST API (Kestra-shaped JSON under /api/v1), webhooks and the dashboard.

``create_app(settings=None)`` builds one app from one :class:`~engine.settings.Settings` (loaded
from ``PODIUM_*`` / ``PODIUM_CONFIG`` when not given): production runs
``gunicorn 'app:create_app()'``. No module-level app, database or metrics registry: each app owns
its own (tests build as many as they like). It never imports Celery.

Today it serves the operations endpoints (docs/operations.md):

- ``GET /health``: database and broker checks, JSON, 503 when a part is down;
- ``GET /metrics``: Prometheus text format (executions by state, task run durations and phases,
  executor event times, queue depths), computed at scrape time from the database and the broker.

Errors are JSON (``{"message": ..., "status": ...}``), never an HTML page or a traceback.
Authentication is not done here yet: the web issue adds it (and the REST API and dashboard); until
then expose the port to a trusted network only (``/metrics`` and ``/health`` are meant for
scrapers and probes anyway).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from engine.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The web app (``app.factory.build_app``). Imported on call, so that ``podium --help`` and the
    other commands, which import ``app.command``, load neither Flask nor the database layer."""
    from app.factory import build_app

    return build_app(settings)
