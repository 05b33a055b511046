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

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from engine.persistence.db import Database
from engine.settings import Settings, load_settings

log = logging.getLogger("podium.web")


def create_app(settings: Settings | None = None) -> Flask:
    """The web app; when it loads the settings itself (production) it also configures the logs."""
    from app.health import make_health_blueprint
    from app.metrics import make_metrics_blueprint
    from app.queues import QueueProbe

    if settings is None:
        from engine.log_config import configure_logging

        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level, process="web")
    app = Flask("podium")
    db = Database(settings.resolved_database_url)
    queues = QueueProbe(settings)
    app.extensions["podium"] = {"settings": settings, "db": db, "queues": queues}
    app.register_blueprint(make_health_blueprint(db, queues))
    app.register_blueprint(make_metrics_blueprint(db, queues))
    _json_errors(app)
    return app


def _json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[Response, int]:
        status = err.code or 500
        message = err.description or err.name
        if status == 404:
            message = "no such endpoint; the web API (/api/v1) is not available yet: try GET /health or GET /metrics"
        return jsonify({"message": message, "status": status}), status

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> tuple[Response, int]:
        log.exception("unhandled error in a web request")
        return jsonify({"message": f"internal error: {type(err).__name__}; see the web process logs",
                        "status": 500}), 500
