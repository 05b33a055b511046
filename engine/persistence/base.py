"""L2 adapter: what every repository shares (transactions, dialect-specific inserts, errors)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

from sqlalchemy import ARRAY, Column, CursorResult, Result, String, Table, any_, bindparam, literal_column, orm
from sqlalchemy.dialects import postgresql, sqlite

from engine.persistence.db import Database

#: One open transaction, as ``Database.transaction()`` yields it. Services hand it from one
#: repository call to the next so that those calls commit together; only repositories run
#: statements on it, so the services above never import SQLAlchemy.
Session: TypeAlias = orm.Session


class PersistenceError(Exception):
    """Root of the persistence errors."""


class NotFound(PersistenceError, LookupError):
    """A record that does not exist (or is deleted)."""


class Repository:
    """A repository works on one Database.

    Every method takes an optional ``session``: without one it runs in its own
    transaction; with one (from ``Database.transaction()`` or ``ExecutionRepository.lock``)
    it joins that transaction and leaves the commit to its owner.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def _tx(self, session: Session | None, write: bool = True) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with self.db.transaction(write=write) as own:
            yield own

    @contextmanager
    def _statement(self, session: Session | None) -> Iterator[Session]:
        """``session``, or one for a single read statement (``Database.statement``)."""
        if session is not None:
            yield session
            return
        with self.db.statement() as own:
            yield own


def insert_for(session: Session, table: Table) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing/update`` on the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def upsert(session: Session, table: Table, keys: tuple[str, ...], updated: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of ``updated`` on the session's dialect, built
    once per dialect and table and bound per call (building it costs more than running it)."""
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table.name, keys, updated)
    statement = _UPSERTS.get(cache_key)
    if statement is None:
        insert = insert_for(session, table)
        statement = _UPSERTS[cache_key] = insert.on_conflict_do_update(
            index_elements=[table.c[key] for key in keys], set_={c: insert.excluded[c] for c in updated})
    return statement


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def affected(result: Result[Any]) -> int:
    """Rows changed by an UPDATE or DELETE (Session.execute types it as a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


def among(column: Column[Any], name: str) -> tuple[Any, Any]:
    """``column`` among the list bound to ``name``, as (SQLite, PostgreSQL) conditions, to index
    with ``is_postgres(session)``. An expanding IN is rewritten on every call (a third of a
    millisecond each); PostgreSQL takes one array parameter instead."""
    return (column.in_(bindparam(name, expanding=True)), column == any_(bindparam(name, type_=ARRAY(String))))


def constants(values: list[str]) -> list[Any]:
    """Fixed strings (state names) as SQL literals: ``IN`` over them compiles once, where a list
    of plain values is an expanding parameter rewritten on every call."""
    return [literal_column("'" + value.replace("'", "''") + "'") for value in values]
