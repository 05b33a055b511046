"""L2 adapter: what every repository shares (transactions, dialect-specific inserts, errors)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

from sqlalchemy import ARRAY, Column, CursorResult, Result, String, Table, any_, bindparam, exc, literal_column, orm
from sqlalchemy.dialects import postgresql, sqlite

from engine.persistence.db import Database
from engine.persistence.records import NotFound as NotFound
from engine.persistence.records import PersistenceError as PersistenceError

#: One open transaction, as ``Database.transaction()`` yields it. Services hand it from one
#: repository call to the next so that those calls commit together; only repositories run
#: statements on it, so the services above never import SQLAlchemy.
Session: TypeAlias = orm.Session


# SQLSTATE classes of a refused value: data exception, integrity violation, program limit exceeded.
_REFUSED_CLASSES = ("22", "23", "54")
_REASON_LENGTH = 300


#: What binding a value raises before anything reaches the database (not JSON, nested too deeply,
#: a number out of range, text UTF-8 cannot encode); psycopg raises them as they are.
_UNBINDABLE = (TypeError, ValueError, RecursionError, OverflowError)


def refused(error: BaseException) -> bool:
    """Whether a write failed for what it writes, and would fail the same way again (a value too
    long or too big, not JSON, nested too deeply, a broken constraint), rather than for the
    database's state (unreachable, locked, a deadlock): its caller writes something else instead
    (a FAILED result with the reason), where retrying the same would loop."""
    if isinstance(error, _UNBINDABLE):
        return True
    if not isinstance(error, exc.StatementError):
        return False
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return False
        if isinstance(error, (exc.DataError, exc.IntegrityError)):
            return True
        return str(getattr(error.orig, "sqlstate", None) or "")[:2] in _REFUSED_CLASSES
    return True  # a value that could not be bound (not JSON...): nothing reached the database


def refusal(error: BaseException) -> str:
    """What ``refused`` saw, in one short line: the database's own message without the SQL, the
    parameters and the detail lines (which quote the values written)."""
    cause = error.orig if isinstance(error, exc.StatementError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return text if len(text) <= _REASON_LENGTH else text[:_REASON_LENGTH - 1] + "…"


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
