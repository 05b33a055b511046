"""L2 adapter: the database handle (engine, sessions, transactions, migrations).

SQLite by default, PostgreSQL in production, chosen by the URL:
``sqlite:///path/podium.db`` or ``postgresql+psycopg://user@host/db``.

Both store values the same way (``engine.storable``: NUL characters, lone surrogates and
non-finite numbers, which PostgreSQL refuses): the engine's JSON serializer is ``dumps_json``.

SQLite is tuned so that several processes (executor, worker, beat) can share one file:
WAL journal (readers never block the writer), foreign keys on, a busy timeout, and write
transactions opened with ``BEGIN IMMEDIATE``. The last one matters: a deferred transaction
that reads and then writes can fail at once with "database is locked" when another process
wrote in between; taking the write lock at BEGIN makes writers queue on the busy timeout.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.drivers import MissingDriver, database_driver
from engine.persistence.revisions import shipped_head
from engine.storable import dumps_json

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant shared by all Podium processes: serialises concurrent `upgrade()` calls on PG.
_MIGRATION_LOCK_KEY = 0x506F6469  # "Podi"
_WRITE_OPTION = "podium_write"
# A pooled PostgreSQL connection idle this long is pinged before use (_ping_idle_connections).
IDLE_PING_SECONDS = 1.0
_CHECKED_IN = "podium_checked_in"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the only PG driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """One database: an engine, a session factory and the migrations.

    ``transaction()`` is the usual way in: a Session inside one committed-or-rolled-back
    transaction. Repositories accept such a session so several writes can share it.
    """

    def __init__(self, url: str, *, busy_timeout: float = 30.0, echo: bool = False) -> None:
        self.url = normalize_url(url)
        try:
            self.engine: Engine = _create_engine(self.url, busy_timeout, echo)
        except ImportError as err:
            driver = database_driver(self.url)
            if driver is None:
                raise
            raise MissingDriver(driver.message(str(err))) from err
        # Write transactions go through an engine variant flagged so SQLite's BEGIN is IMMEDIATE.
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self.sessions: sessionmaker[Session] = sessionmaker(
            bind=self._write_engine, expire_on_commit=False, autoflush=False)
        self._read_sessions: sessionmaker[Session] = sessionmaker(
            bind=self.engine, expire_on_commit=False, autoflush=False)
        # PostgreSQL: a read of one statement needs no transaction, and psycopg sends BEGIN and
        # COMMIT as round trips of their own (a third of a one-row read's). SQLite's are local.
        self._statement_sessions = self._read_sessions if self.is_sqlite else sessionmaker(
            bind=self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False,
            autoflush=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on exit, rolled back on an exception.

        ``write=False`` opens a plain (deferred) transaction on SQLite, so readers never wait
        for the write lock.
        """
        factory = self.sessions if write else self._read_sessions
        with factory() as session, session.begin():
            yield session

    @contextmanager
    def statement(self) -> Iterator[Session]:
        """A session for ONE read statement: it sees what was committed when it ran, like any
        statement; no transaction around it on PostgreSQL (autocommit), a read one on SQLite."""
        with self._statement_sessions() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Runs the shipped Alembic migrations up to ``revision`` (idempotent)."""
        if revision == "head" and self._at_head():
            return  # Alembic, imported, would find nothing to do
        from alembic import command

        config = alembic_config(self.url)
        with self._write_engine.begin() as connection:
            if self.dialect == "postgresql":
                # Several processes may start at once; only one migrates, the others wait.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def _at_head(self) -> bool:
        """Whether the database records exactly the shipped head (read without Alembic)."""
        head = shipped_head(MIGRATIONS / "versions")
        if head is None:
            return False
        try:
            with self.engine.connect() as connection:
                stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except exc.DBAPIError:  # no version table yet: a new database
            return False
        return list(stored) == [head]

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        # ``%`` is ConfigParser's interpolation character (URL-encoded passwords contain it).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str, busy_timeout: float, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, json_serializer=dumps_json)
        _ping_idle_connections(engine)
        return engine
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False,
                                               "timeout": busy_timeout}}
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every checkout would see a different empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, json_serializer=dumps_json, **kwargs)
    _tune_sqlite(engine, busy_timeout, wal=not in_memory)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Checks a pooled connection is alive before use if it sat idle ``IDLE_PING_SECONDS``.

    ``pool_pre_ping`` pings on every checkout: one more round trip per transaction, 9% of a worker's
    time on a no-op task. A connection used a moment ago is alive but for a server restart in that
    moment; the transaction that meets it then fails, SQLAlchemy drops the pool's connections, and
    the event's redelivery (or the outbox) repeats the work.
    """
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means "not usable"
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the pooled connection is closed")  # the pool tries a new one


def _tune_sqlite(engine: Engine, busy_timeout: float, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver (it would skip it for SELECTs); see _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            # Durable at checkpoints, which is the usual trade-off with WAL.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
