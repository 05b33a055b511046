"""The database handle: migrations, dialect settings, and the migrated schema."""
from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from engine.persistence.db import Database, normalize_url
from engine.persistence.tables import metadata


def test_migrated_schema_matches_the_table_metadata(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent_and_reaches_head(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert db.current_revision() == Database.head_revision() == "0008"


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
