"""Building the Flask app of the web process from one Settings object (``create_app``)."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.health import make_health_blueprint
from app.metrics import make_metrics_blueprint
from app.queues import QueueProbe
from engine.log_config import configure_logging
from engine.persistence.db import Database
from engine.settings import Settings, load_settings

log = logging.getLogger("podium.web")


def build_app(settings: Settings | None = None) -> Flask:
    """The web app; when it loads the settings itself (production) it also configures the logs."""
    if settings is None:
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
