"""L2 adapter: Alembic environment for Podium's migrations.

``Database.upgrade()`` passes an open connection in ``config.attributes["connection"]``
(already inside a transaction and, on PostgreSQL, holding the migration lock). The
``alembic`` command line (``alembic -c engine/persistence/migrations/alembic.ini``) uses
``sqlalchemy.url`` / ``PODIUM_DATABASE_URL`` instead. Logging is left alone on purpose: the
host process owns its logging configuration.
"""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from engine.persistence.db import normalize_url
from engine.persistence.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("PODIUM_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set PODIUM_DATABASE_URL or sqlalchemy.url")
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("Podium migrations run online only (Database.upgrade()).")
run_online()
