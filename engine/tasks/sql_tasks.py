"""L2 adapter: runs the JDBC ``Query`` and ``Queries`` tasks of SQLite, DuckDB and PostgreSQL
(plugin-jdbc 1.x semantics: docs/sql.md).

``Query`` runs exactly one statement; ``Queries`` runs several, in one transaction unless
``transaction: false``; ``afterSQL`` runs after them in the same transaction. Each result is
turned into Kestra's outputs by ``fetchType``: ``row`` (FETCH_ONE), ``rows`` (FETCH), ``uri`` of
an Ion-lines file written row by row (STORE), each with ``size``, the number of rows.
"""
from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from engine import ion
from engine.ids import new_id
from engine.plugins.ext.jdbc import Fetching, FetchType
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.script_files import collect_output_files, write_input_files
from engine.tasks.sql_drivers import Opened, one_line, open_duckdb, open_postgres, open_sqlite
from engine.tasks.sql_statements import bind_parameters, split_statements

SINGLE = ("Query task supports only a single SQL statement; use the Queries task "
          "(io.kestra.plugin.jdbc.*.Queries) to run several")


def run_sqlite_query(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_file_database(options, ctx, open_sqlite, many=False)


def run_sqlite_queries(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_file_database(options, ctx, open_sqlite, many=True)


def run_duckdb_query(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_file_database(options, ctx, open_duckdb, many=False)


def run_duckdb_queries(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_file_database(options, ctx, open_duckdb, many=True)


def run_postgres_query(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_postgres(options, ctx, many=False)


def run_postgres_queries(options: Any, ctx: RunContext) -> dict[str, Any]:
    return _run_postgres(options, ctx, many=True)


def _run_postgres(options: Any, ctx: RunContext, many: bool) -> dict[str, Any]:
    password = ctx.render_text(options.password)
    opened = open_postgres(str(ctx.render_text(options.url)), ctx.render_text(options.username), password)
    try:
        return _execute(options, ctx, opened, many, {}, password)
    finally:
        _close(opened)


def _run_file_database(options: Any, ctx: RunContext, opener: Callable[..., Opened], many: bool) -> dict[str, Any]:
    folder = ctx.working_dir
    output_names = [str(n) for n in ctx.render(getattr(options, "output_files", None) or [])]
    extra = {"workingDir": str(folder), "outputFiles": {n: str(folder / n) for n in output_names}}
    write_input_files(ctx, getattr(options, "input_files", None), folder, extra)
    default_file = _starting_file(options, ctx, folder)
    opened = opener(str(ctx.render_text(options.url)), folder, default_file)
    try:
        outputs = _execute(options, ctx, opened, many, extra, None)
    finally:
        _close(opened)
    if output_names:
        outputs["outputFiles"] = collect_output_files(ctx, output_names, folder, folder / ".no-output-dir")
    if getattr(options, "output_db_file", None) and opened.database_file is not None:
        outputs["databaseUri"] = ctx.put_file(opened.database_file)
    return outputs


def _close(opened: Opened) -> None:
    with suppress(Exception):  # a cancelled or broken connection; the task's error is already set
        opened.connection.close()


@contextmanager
def _cancelled_on_stop(ctx: RunContext, opened: Opened) -> Iterator[None]:
    """While the body runs, a kill or timeout (the context's cancel event) cancels the running
    statement through the driver, so that the server stops working on it."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if ctx.cancel_event.wait(0.2) and not done.is_set():
                if opened.cancel is not None:
                    with suppress(Exception):  # the statement may have just ended
                        opened.cancel()
                return

    watcher = threading.Thread(target=watch, name=f"sql-cancel-{ctx.task_id}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


def _starting_file(options: Any, ctx: RunContext, folder: Path) -> Path | None:
    """The database file used when the URL names none: a copy of ``databaseUri``/``sqliteFile``, or
    a fresh file when ``outputDbFile`` asks for the database back."""
    source = ctx.render_text(getattr(options, "database_uri", None) or getattr(options, "sqlite_file", None))
    target = folder / f"database-{new_id()}.db"
    if source:
        target.write_bytes(ctx.read_file(source))
        return target
    return target if getattr(options, "output_db_file", None) else None


def _execute(options: Fetching, ctx: RunContext, opened: Opened, many: bool,
             extra: Mapping[str, Any], password: str | None) -> dict[str, Any]:
    if options.auto_commit is not None:
        raise TaskFailed("autocommit was removed in Kestra 0.23: delete it; Queries runs in one "
                         "transaction unless 'transaction: false'")
    statements = split_statements(str(ctx.render(options.sql, extra=extra)))
    if not statements:
        raise TaskFailed("sql has no statement")
    if not many and len(statements) > 1:
        raise TaskFailed(SINGLE)
    after = split_statements(str(ctx.render(options.after_sql, extra=extra) or "")) if options.after_sql else []
    parameters = ctx.render(options.parameters or {}, extra=extra)
    transaction = bool(getattr(options, "transaction", False)) or bool(after)
    fetch = _fetch_type(options)
    with _cancelled_on_stop(ctx, opened):
        results = _run_statements(ctx, opened, [*statements, *after], parameters, transaction,
                                  lambda cursor: _result(ctx, cursor, fetch, options.fetch_size), password)
    if many:
        return {"outputs": results}
    return results[0] if results else ({"size": 0} if fetch is not FetchType.NONE else {})


def _run_statements(ctx: RunContext, opened: Opened, statements: list[str], parameters: Mapping[str, Any],
                    transaction: bool, fetch: Callable[[Any], dict[str, Any]],
                    password: str | None) -> list[dict[str, Any]]:
    cursor = opened.connection.cursor()
    results: list[dict[str, Any]] = []
    try:
        if transaction:
            cursor.execute("BEGIN")
        for statement in statements:
            used: dict[str, Any] = {}
            sql = bind_parameters(statement, parameters, _recording(opened, parameters, used))
            if used and opened.escape_percent:  # psycopg reads % only when given parameters
                sql = bind_parameters(statement, parameters, opened.placeholder, escape_percent=True)
            cursor.execute(sql, used) if used else cursor.execute(sql)
            if cursor.description is not None and _returns_rows(statement):
                results.append(fetch(cursor))
        if transaction:
            cursor.execute("COMMIT")
    except TaskFailed:
        raise
    except Exception as error:  # noqa: BLE001 - every driver's own error class, turned into one line
        if ctx.is_cancelled:
            raise TaskFailed(f"{opened.server}: the statement was cancelled") from None
        _rollback(cursor, transaction)
        raise TaskFailed(f"{opened.server}: {one_line(error, password)}") from None
    return results


_CHANGES = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "COPY", "TRUNCATE",
                      "ATTACH", "DETACH", "INSTALL", "LOAD", "SET", "USE", "BEGIN", "COMMIT", "ROLLBACK"})


def _returns_rows(statement: str) -> bool:
    """Whether a statement's result is rows to fetch; DuckDB answers a change with a ``Count`` row,
    which JDBC (and so Kestra) reports as an update count, not a result."""
    words = statement.split(None, 1)
    first = words[0].upper().lstrip("(") if words else ""
    return first not in _CHANGES or "RETURNING" in statement.upper()


def _recording(opened: Opened, parameters: Mapping[str, Any], used: dict[str, Any]) -> Callable[[str], str]:
    """The driver's placeholder, noting each parameter the statement uses (DuckDB refuses extra ones)."""
    def placeholder(name: str) -> str:
        used[name] = parameters[name]
        return opened.placeholder(name)

    return placeholder


def _rollback(cursor: Any, transaction: bool) -> None:
    if transaction:
        with suppress(Exception):  # the connection may be gone; the first error is the one to report
            cursor.execute("ROLLBACK")


def _fetch_type(options: Fetching) -> FetchType:
    if options.fetch_one:
        return FetchType.FETCH_ONE
    if options.store:
        return FetchType.STORE
    if options.fetch:
        return FetchType.FETCH
    return options.fetch_type


def _rows(cursor: Any, batch: int) -> Iterator[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    while True:
        chunk = cursor.fetchmany(batch)
        if not chunk:
            return
        for values in chunk:
            yield dict(zip(names, values, strict=True))


def _result(ctx: RunContext, cursor: Any, fetch: FetchType, batch: int) -> dict[str, Any]:
    if fetch is FetchType.FETCH_ONE:
        first = next(_rows(cursor, 1), None)
        return {"row": _json_ready(first) if first is not None else {}, "size": 1 if first is not None else 0}
    if fetch is FetchType.FETCH:
        rows = [_json_ready(row) for row in _rows(cursor, batch)]
        return {"rows": rows, "size": len(rows)}
    if fetch is FetchType.STORE:
        path = ctx.working_dir / f"{new_id()}.ion"
        with open(path, "wb") as out:
            size = ion.write_records(out, _rows(cursor, batch))
        uri = ctx.put_file(path)
        path.unlink()
        return {"uri": uri, "size": size}
    return {}


def _json_ready(value: Any) -> Any:
    """A cell as Kestra's outputs carry it: numbers stay numbers, dates become ISO-8601 text."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value
