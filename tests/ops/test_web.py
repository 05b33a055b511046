"""The web app's operations endpoints on a real Flask test client, real databases and a real Redis."""
from __future__ import annotations

import socket
import textwrap
import uuid
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from cli.inline import InlineDispatcher
from engine.services import build_services
from engine.settings import Settings
from messaging.celery_app import RUN_TASK_RUN, make_celery

FLOW = """
id: hello
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_health_is_up_with_the_database_and_redis(tmp_path: Path, database_url: str, redis_url: str) -> None:
    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, broker_url=redis_url))
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "UP", "database": "UP", "broker": "UP", "broker_url": redis_url}


def test_health_is_503_with_the_reason_when_the_broker_is_down(tmp_path: Path, sqlite_url: str) -> None:
    broker = f"redis://:secret@127.0.0.1:{_closed_port()}/0"
    app = create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url=broker))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "DOWN" and body["database"] == "UP"
    assert body["broker"].startswith("DOWN: ConnectionError")
    assert "secret" not in body["broker_url"]


def test_health_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    database = f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/podium"
    app = create_app(Settings(data_dir=tmp_path, database_url=database, broker_url="memory://"))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["database"].startswith("DOWN: OperationalError")
    assert response.json["broker"] == "UP"


def test_metrics_after_a_flow_ran(tmp_path: Path, database_url: str, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, broker_url=redis_url,
                        metrics_flush_seconds=0)
    services = build_services(settings, InlineDispatcher())
    try:
        services.deploy_source(textwrap.dedent(FLOW))
        services.start_execution("company.team", "hello")
        services.env.dispatcher.drain()
        # Two task run messages waiting on Redis, in the default queue and in a worker group.
        celery = make_celery(settings)
        celery.send_task(RUN_TASK_RUN, kwargs={}, queue="default")
        group = f"gpu-{uuid.uuid4().hex[:6]}"  # kombu caches declared queues per process, across tests
        celery.send_task(RUN_TASK_RUN, kwargs={}, queue=group)
        text = create_app(settings).test_client().get("/metrics").get_data(as_text=True)
    finally:
        services.env.db.dispose()
    lines = set(text.splitlines())
    assert 'podium_executions{state="SUCCESS"} 1.0' in lines
    assert 'podium_executions{state="RUNNING"} 0.0' in lines
    assert 'podium_task_run_duration_seconds_count{state="SUCCESS"} 1.0' in lines
    assert 'podium_task_run_phase_seconds_count{phase="created_to_dispatched"} 1.0' in lines
    assert 'podium_task_run_phase_seconds_count{phase="started_to_finished"} 1.0' in lines
    assert 'podium_executor_event_seconds_count{event="Start"} 1.0' in lines
    assert 'podium_queue_messages{queue="default"} 1.0' in lines
    assert f'podium_queue_messages{{queue="{group}"}} 1.0' in lines
    assert 'podium_queue_messages{queue="executor"} 0.0' in lines
    assert {line for line in lines if line.startswith("podium_scrape_error{")} == {
        'podium_scrape_error{part="executions"} 0.0', 'podium_scrape_error{part="rollups"} 0.0',
        'podium_scrape_error{part="queues"} 0.0'}
    assert "# TYPE podium_task_run_duration_seconds histogram" in lines


def test_two_apps_have_their_own_registries(tmp_path: Path, sqlite_url: str) -> None:
    first = create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url="memory://"))
    second = create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url="memory://"))
    for app in (first, second):
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert text.count("# TYPE podium_executions gauge") == 1


def test_queue_depths_on_podium_fs_count_message_files(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url)
    celery = make_celery(settings)
    for _ in range(3):
        celery.send_task(RUN_TASK_RUN, kwargs={}, queue="default")
    client = create_app(settings).test_client()
    assert client.get("/health").json["broker"] == "UP"
    assert 'podium_queue_messages{queue="default"} 3.0' in client.get("/metrics").get_data(as_text=True)


@pytest.fixture
def app_with_a_failing_route(tmp_path: Path, sqlite_url: str) -> Flask:
    app = create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url="memory://"))

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a secret detail")

    return app


def test_errors_are_json_never_a_traceback(app_with_a_failing_route: Flask) -> None:
    client = app_with_a_failing_route.test_client()
    missing = client.get("/api/v1/executions")
    assert missing.status_code == 404 and missing.is_json
    assert missing.json["status"] == 404 and "/health" in missing.json["message"]
    failed = client.get("/boom")
    assert failed.status_code == 500 and failed.is_json
    assert failed.json == {"message": "internal error: RuntimeError; see the web process logs", "status": 500}
    assert client.post("/health").json["status"] == 405
