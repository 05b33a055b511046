"""``GET /health``: is the database reachable, is the broker reachable? JSON; 503 when not."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from app.queues import QueueProbe
from engine.health import health_report
from engine.persistence.db import Database


def make_health_blueprint(db: Database, queues: QueueProbe) -> Blueprint:
    blueprint = Blueprint("health", __name__)

    def database() -> None:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @blueprint.get("/health")
    def health() -> tuple[Response, int]:
        body = health_report({"database": database, "broker": queues.ping}, error_names=True,
                             broker_url=queues.label)
        return jsonify(body), 200 if body["status"] == "UP" else 503

    return blueprint
