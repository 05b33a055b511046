"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real Redis.

- ``db``: a migrated, empty :class:`Database`, parametrized over ``sqlite`` and ``postgres``
  (one contract suite, both dialects; Dagster style).
- ``database_url``: the same, as a URL only (for code that builds its own Database).
- ``sqlite_url`` / ``postgres_database_url``: a fresh migrated database of one dialect.
- ``postgres_url``: the throwaway cluster's maintenance database (session-scoped).
- ``redis_url``: a throwaway ``redis-server``, flushed before each test.

Servers are per pytest process, so xdist workers never share ports or data directories.
"""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.persistence.db import Database
from tests.servers import PostgresCluster, RedisServer, start_postgres, start_redis

TEMPLATE_DB = "podium_template"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = start_postgres()
    try:
        _create_template(cluster)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The cluster's ``postgres`` database URL (create your own databases from it)."""
    return postgres_cluster.url()


@pytest.fixture
def postgres_database_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database copied from the migrated template: isolated, and fast to make."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    admin = f"host=127.0.0.1 port={postgres_cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
    yield postgres_cluster.url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create_template(cluster: PostgresCluster) -> None:
    import psycopg

    admin = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    database = Database(cluster.url(TEMPLATE_DB))
    database.upgrade()
    # A template must have no open connections when it is copied.
    database.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "podium.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    # Closing the last connection checkpoints the WAL into the main file, so copying it is enough.
    database.dispose()
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "podium.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database URL, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_database_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.command("FLUSHALL")
    return redis_server.url
