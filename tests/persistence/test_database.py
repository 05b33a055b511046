"""The database handle: migrations, dialect settings, and the migrated schema."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text

from engine.persistence import db as db_module
from engine.persistence.db import Database, normalize_url
from engine.persistence.tables import metadata


def test_migrated_schema_matches_the_table_metadata(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent_and_reaches_head(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert db.current_revision() == Database.head_revision() == "0013"


def test_fresh_sqlite_file_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert database.current_revision() is None
    database.upgrade()
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    assert database.current_revision() == Database.head_revision()
    database.dispose()


def test_in_memory_sqlite_keeps_one_database() -> None:
    database = Database("sqlite://")
    database.upgrade()
    with database.transaction() as session:
        session.execute(text("INSERT INTO kv (namespace, key, type, created, updated) "
                             "VALUES ('n', 'k', 'STRING', '2024-01-01', '2024-01-01')"))
    with database.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM kv")).scalar() == 1


def test_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.postgres
def test_a_pooled_postgres_connection_killed_while_idle_is_replaced(
        postgres_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Idle connections are pinged before use (not every checkout: a round trip per transaction).
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    database = Database(postgres_database_url)
    with database.transaction(write=False) as tx:
        first = tx.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = Database(postgres_database_url)
    with admin.transaction() as tx:
        assert tx.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    admin.dispose()
    with database.transaction(write=False) as tx:  # no error: the dead connection was replaced
        assert tx.execute(text("SELECT pg_backend_pid()")).scalar() != first
    database.dispose()


@pytest.mark.postgres
def test_a_pooled_postgres_connection_used_a_moment_ago_is_not_pinged(postgres_database_url: str) -> None:
    database = Database(postgres_database_url)
    statements: list[str] = []
    with database.transaction(write=False) as tx:
        tx.execute(text("SELECT 1"))
    event.listen(database.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: statements.append(statement))
    ping = database.engine.dialect.do_ping
    pings: list[object] = []
    database.engine.dialect.do_ping = lambda connection: pings.append(connection) or ping(connection)  # type: ignore[method-assign]
    with database.transaction(write=False) as tx:
        tx.execute(text("SELECT 2"))
    assert pings == [] and statements == ["SELECT 2"]
    database.dispose()


def test_a_one_statement_read_runs_outside_any_transaction_on_postgresql(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute(text("CREATE TABLE IF NOT EXISTS probe (n INTEGER)"))
        tx.execute(text("INSERT INTO probe VALUES (7)"))
    with db.statement() as session:
        assert session.execute(text("SELECT n FROM probe")).scalar_one() == 7  # committed rows
        raw = session.connection().connection.dbapi_connection
        if db.dialect == "postgresql":
            from psycopg import pq
            assert raw.info.transaction_status == pq.TransactionStatus.IDLE  # autocommit: no BEGIN sent
    with db.transaction(write=False) as tx:  # the pooled connection is back to transactions
        tx.execute(text("SELECT n FROM probe")).all()
        raw = tx.connection().connection.dbapi_connection
        if db.dialect == "postgresql":
            assert raw.info.transaction_status == pq.TransactionStatus.INTRANS
