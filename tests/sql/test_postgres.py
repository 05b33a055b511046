"""PostgreSQL Query/Queries through run_task against a real server that asks for a password."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from engine.state import State
from tests.servers import PostgresCluster, start_postgres
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

PG = "io.kestra.plugin.jdbc.postgresql."
SECRET = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    server = start_postgres(password=SECRET)
    yield server
    server.stop()


def _task(cluster: PostgresCluster, kind: str, **props: Any) -> dict[str, Any]:
    return {"type": PG + kind, "url": f"jdbc:postgresql://127.0.0.1:{cluster.port}/postgres",
            "username": "postgres", "password": SECRET, **props}


def test_types_of_fetched_rows(run: Run, cluster: PostgresCluster) -> None:
    outcome = run(_task(cluster, "Query", fetchType="FETCH_ONE", sql=(
        "SELECT 1 AS i, 1.50::numeric AS d, 2.5::float8 AS f, NULL AS n, 'x' AS s, DATE '2024-01-02' AS day, "
        "TIMESTAMP '2024-01-02 03:04:05' AS ts, '{\"a\": [1]}'::jsonb AS j, ARRAY[1,2] AS arr, true AS b, "
        "'50%' AS pct")))
    assert outcome.state is State.SUCCESS, outcome.error
    assert outcome.outputs == {"row": {"i": 1, "d": 1.5, "f": 2.5, "n": None, "s": "x", "day": "2024-01-02",
                                       "ts": "2024-01-02T03:04:05", "j": {"a": [1]}, "arr": [1, 2], "b": True,
                                       "pct": "50%"}, "size": 1}


def test_queries_roll_back_on_error_and_bind_parameters(run: Run, cluster: PostgresCluster) -> None:
    run(_task(cluster, "Query", sql="DROP TABLE IF EXISTS trips"))
    made = run(_task(cluster, "Queries", sql="CREATE TABLE trips (id int, city text); "
                     "INSERT INTO trips VALUES (:id, :city)", parameters={"id": 1, "city": "Paris"}))
    assert made.state is State.SUCCESS, made.error
    failed = run(_task(cluster, "Queries", sql="INSERT INTO trips VALUES (2, 'Lyon'); SELECT 1/0"))
    assert failed.state is State.FAILED
    assert "division by zero" in (failed.error or "") and f"127.0.0.1:{cluster.port}/postgres" in (failed.error or "")
    rows = run(_task(cluster, "Query", sql="SELECT id, city FROM trips ORDER BY id", fetchType="FETCH"))
    assert rows.outputs == {"rows": [{"id": 1, "city": "Paris"}], "size": 1}


def test_store(run: Run, world: World, cluster: PostgresCluster) -> None:
    outcome = run(_task(cluster, "Query", sql="SELECT g AS n, g::numeric / 4 AS q FROM generate_series(1, 5) g",
                        fetchType="STORE", fetchSize=2))
    assert outcome.outputs["size"] == 5, outcome.error
    lines = world.storage.get(outcome.outputs["uri"]).decode().splitlines()
    assert lines[0] == "{n:1,q:0.25000000000000000000}"


@pytest.mark.parametrize(("change", "expected"), [
    ({"password": "wrong"}, "password authentication failed"),
    ({"url": "jdbc:postgresql://127.0.0.1:1/postgres"}, "127.0.0.1:1/postgres"),
    ({"url": "jdbc:mysql://x/y"}, "is not a PostgreSQL JDBC URL"),
    ({"sql": "SELEC 1"}, "syntax error"),
])
def test_bad_input_is_one_line_without_the_password(run: Run, world: World, cluster: PostgresCluster,
                                                     change: dict[str, str], expected: str) -> None:
    outcome = run(_task(cluster, "Query", **{"sql": "SELECT 1", **change}))
    assert outcome.state is State.FAILED
    error = outcome.error or ""
    assert expected in error and "\n" not in error and "Traceback" not in error
    assert SECRET not in error and all(SECRET not in entry.message for entry in world.logs)


def test_a_timed_out_query_is_cancelled_on_the_server(run: Run, cluster: PostgresCluster) -> None:
    started = time.monotonic()
    outcome = run(_task(cluster, "Query", sql="SELECT pg_sleep(60) /* podium-cancel-test */", timeout="PT1S"))
    assert outcome.state is State.FAILED and time.monotonic() - started < 30
    dsn = f"host=127.0.0.1 port={cluster.port} user=postgres password={SECRET} dbname=postgres"
    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as connection:
        while True:
            active = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                        "AND query LIKE '%podium-cancel-test%' AND pid <> pg_backend_pid()").fetchone()
            if active == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert active == (0,)
    # the cancel watcher of the query ends with its task (within its 0.2 s poll); other tests of
    # this process may hold threads of their own
    deadline = time.monotonic() + 5
    while [t for t in threading.enumerate() if t.name.startswith("sql-cancel-")] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("sql-cancel-")]
