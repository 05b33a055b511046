"""``GET /health``: is the database reachable, is the broker reachable? JSON; 503 when not."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from app.queues import QueueProbe
from engine.persistence.db import Database


def make_health_blueprint(db: Database, queues: QueueProbe) -> Blueprint:
    blueprint = Blueprint("health", __name__)

    def database() -> None:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @blueprint.get("/health")
    def health() -> tuple[Response, int]:
        parts = {"database": _probe(database), "broker": _probe(queues.ping)}
        status = "UP" if all(value == "UP" for value in parts.values()) else "DOWN"
        body: dict[str, Any] = {"status": status, **parts, "broker_url": queues.label}
        return jsonify(body), 200 if status == "UP" else 503

    return blueprint


def _probe(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as err:  # noqa: BLE001 - any failure means DOWN, with its reason
        return f"DOWN: {type(err).__name__}: {err}"
    return "UP"
