"""L2 adapter: opening the database a JDBC URL names (SQLite, DuckDB, PostgreSQL) with its Python driver.

Every connection is in autocommit mode: the SQL task issues ``BEGIN``/``COMMIT``/``ROLLBACK``
itself, so that the three drivers behave alike. File databases are confined to the task's
working directory: a relative path is resolved there, an absolute one must lie inside it, so a
flow never opens a file of the host (DuckDB is also started with its file access limited to that
folder, and SQLite refuses ``ATTACH``).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.tasks.outcome import TaskFailed

MEMORY = ":memory:"


@dataclass(frozen=True)
class Opened:
    """A DB-API connection, how its parameters are written, and what names its server in errors."""

    connection: Any
    server: str
    placeholder: Callable[[str], str]
    escape_percent: bool = False
    database_file: Path | None = None
    # Stops the running statement from another thread (a kill or a timeout): on the server for
    # PostgreSQL (a cancel request), in-process for SQLite and DuckDB.
    cancel: Callable[[], None] | None = None


def database_path(url: str, prefix: str, working_dir: Path) -> Path | None:
    """The file of a ``jdbc:sqlite:``/``jdbc:duckdb:`` URL inside ``working_dir``, or None (in memory)."""
    rest = url[len(prefix):].split("?", 1)[0]
    if rest in ("", MEMORY, "memory:"):
        return None
    root = working_dir.resolve()
    path = (root / rest).resolve()
    if path != root and root not in path.parents:
        raise TaskFailed(f"url '{url}': a database file must be inside the task's working directory "
                         f"({{{{ workingDir }}}}); use a relative path, inputFiles or databaseUri to bring one")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _refuse_attach(action: int, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK


def open_sqlite(url: str, working_dir: Path, default_file: Path | None = None) -> Opened:
    if not url.startswith("jdbc:sqlite:"):
        raise TaskFailed(f"url '{url}' is not a SQLite JDBC URL (jdbc:sqlite:path or jdbc:sqlite::memory:)")
    path = database_path(url, "jdbc:sqlite:", working_dir) or default_file
    name = str(path) if path else MEMORY
    try:
        connection = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise TaskFailed(f"SQLite database '{url}': {error}") from None
    connection.set_authorizer(_refuse_attach)
    return Opened(connection, f"SQLite database '{url}'", lambda n: f":{n}", database_file=path,
                  cancel=connection.interrupt)


def open_duckdb(url: str, working_dir: Path, default_file: Path | None = None) -> Opened:
    import duckdb  # optional extra `duckdb`: imported by the task that needs it

    if not url.startswith("jdbc:duckdb:"):
        raise TaskFailed(f"url '{url}' is not a DuckDB JDBC URL (jdbc:duckdb: or jdbc:duckdb:path)")
    path = database_path(url, "jdbc:duckdb:", working_dir) or default_file
    root = str(working_dir.resolve())
    try:
        connection = duckdb.connect(str(path) if path else MEMORY)
        for setting in (f"SET file_search_path = '{_quote(root)}'",
                        f"SET allowed_directories = ['{_quote(root)}/']",
                        "SET enable_external_access = false", "SET lock_configuration = true"):
            connection.execute(setting)
    except duckdb.Error as error:
        raise TaskFailed(f"DuckDB database '{url}': {error}") from None
    return Opened(connection, f"DuckDB database '{url}'", lambda n: f"${n}", database_file=path,
                  cancel=connection.interrupt)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def postgres_conninfo(url: str, username: str | None, password: str | None) -> tuple[dict[str, Any], str]:
    """psycopg's connection keywords for ``jdbc:postgresql://host:port/db?k=v``, and the server's name."""
    if not url.startswith("jdbc:postgresql://"):
        raise TaskFailed(f"url '{_without_secrets(url)}' is not a PostgreSQL JDBC URL "
                         "(jdbc:postgresql://host:port/database)")
    parts = urlsplit(url[len("jdbc:"):])
    query = dict(parse_qsl(parts.query))
    try:
        port = parts.port or 5432
    except ValueError:
        raise TaskFailed(f"url '{_without_secrets(url)}': the port is not a number") from None
    keywords: dict[str, Any] = {"host": parts.hostname or "localhost", "port": port,
                                "dbname": unquote(parts.path.lstrip("/")) or "postgres",
                                "user": username or query.pop("user", None) or parts.username,
                                "password": password or query.pop("password", None) or parts.password,
                                "connect_timeout": int(query.pop("connectTimeout", 10) or 10)}
    if "sslmode" in query:
        keywords["sslmode"] = query.pop("sslmode")
    if "ApplicationName" in query:
        keywords["application_name"] = query.pop("ApplicationName")
    server = f"PostgreSQL server {keywords['host']}:{port}/{keywords['dbname']}"
    return {k: v for k, v in keywords.items() if v is not None}, server


def _without_secrets(url: str) -> str:
    head, _, query = url.partition("?")
    if "@" in head:
        head = head.split("//", 1)[0] + "//***@" + head.rsplit("@", 1)[1]
    kept = [p for p in query.split("&") if p and not p.lower().startswith("password=")]
    return head + ("?" + "&".join(kept) if kept else "")


def open_postgres(url: str, username: str | None, password: str | None,
                  ssl: dict[str, Any] | None = None) -> Opened:
    import psycopg  # optional extra `postgres`

    keywords, server = postgres_conninfo(url, username, password)
    keywords.update(ssl or {})
    try:
        connection = psycopg.connect(autocommit=True, **keywords)
    except psycopg.Error as error:
        raise TaskFailed(f"{server}: {one_line(error, password)}") from None
    return Opened(connection, server, lambda n: f"%({n})s", escape_percent=True, cancel=connection.cancel_safe)


def one_line(error: BaseException, *secrets: str | None) -> str:
    """A driver's message on one line, with every secret value hidden."""
    text = " ".join(str(error).split()) or type(error).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "******")
    return text
