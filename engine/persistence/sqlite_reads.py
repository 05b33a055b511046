"""L2 adapter: the reads of the read-only CLI commands on an SQLite database, with the stdlib
``sqlite3`` instead of SQLAlchemy (whose import alone takes longer than such a command should).

Each method runs the statement the repository's method runs (same filters, order, limits) and
builds its records with the same functions (``records``, ``codec``), so the values are the same;
``tests/persistence/test_sqlite_reads.py`` compares them on one database. Only a database whose
schema is at the shipped head is read this way (``open_sqlite_reads``); the caller falls back to
the repositories otherwise, which migrate first.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.log_levels import LogLevel
from engine.model.execution import Execution, TaskRun
from engine.persistence.codec import execution_from_row, task_run_content, with_raw_lease
from engine.persistence.records import (
    FlowRevision,
    KVExpired,
    KVValue,
    LogEntry,
    MetricEntry,
    Page,
    TriggerState,
    flow_revision,
    json_value,
    kv_value,
    levels_from,
    log_entry,
    metric_entry,
    trigger_state_of,
)
from engine.persistence.revisions import shipped_head
from engine.state import State

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_URL_PREFIX = "sqlite:///"
_BUSY_TIMEOUT_SECONDS = 30.0  # as Database's: a reader may wait for a writer's checkpoint


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (None for any other URL, or one with options)."""
    if not url.startswith(_URL_PREFIX) or "?" in url:
        return None
    path = url[len(_URL_PREFIX):]
    return Path(path) if path and path != ":memory:" else None


def open_sqlite_reads(url: str) -> SqliteReads | None:
    """Reads on the database at ``url`` if it is an SQLite file whose schema is at the shipped head;
    None otherwise (no such file yet, an older schema, another database)."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    head = shipped_head(MIGRATIONS / "versions")
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        stored = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError:
        stored = []
    if head is None or stored != [head]:
        connection.close()
        return None
    connection.row_factory = sqlite3.Row
    return SqliteReads(connection)


def stored_datetime(text: str | None) -> datetime | None:
    """A UtcDateTime column as SQLite holds it (naive UTC text), tz-aware as the repositories read it."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def _bound_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy binds a UtcDateTime on SQLite (naive UTC, microseconds), so that
    text comparison orders as the repositories' queries do."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _like_prefix(prefix: str) -> str:
    """``prefix`` escaped for ``LIKE ... ESCAPE '/'``, as SQLAlchemy's ``startswith(autoescape=True)``."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


class SqliteReads:
    """One connection; each method reads in one transaction, like a repository call."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        self.connection.execute("BEGIN")
        try:
            yield self.connection
        finally:
            self.connection.execute("COMMIT")

    def executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                   state: State | None = None, size: int = 25) -> Page:
        """``ExecutionRepository.list`` (first page, without task runs, deleted ones left out)."""
        where, parameters = ["deleted = 0"], []
        if namespace is not None:
            where.append("(namespace = ? OR namespace LIKE ? ESCAPE '/')")
            parameters += [namespace, _like_prefix(namespace + ".")]
        if flow_id is not None:
            where.append("flow_id = ?")
            parameters.append(flow_id)
        if state is not None:
            where.append("state = ?")
            parameters.append(state.value)
        condition = " AND ".join(where)
        with self._read() as tx:
            total = tx.execute(f"SELECT count(*) FROM executions WHERE {condition}", parameters).fetchone()[0]
            rows = tx.execute(f"SELECT body FROM executions WHERE {condition} "
                              "ORDER BY start_date DESC, id DESC LIMIT ? OFFSET 0", [*parameters, size]).fetchall()
        items = [execution_from_row({"body": json.loads(row["body"])}, []) for row in rows]
        return Page(items=items, total=total, page=1, size=size)

    def execution(self, execution_id: str) -> Execution | None:
        """``ExecutionRepository.get``: the execution with its task runs, None if absent or deleted."""
        with self._read() as tx:
            row = tx.execute("SELECT body, deleted FROM executions WHERE id = ?", [execution_id]).fetchone()
            if row is None or row["deleted"]:
                return None
            runs = tx.execute("SELECT body, attempts, outputs, attempt, worker_id, lease_until FROM task_runs "
                              "WHERE execution_id = ? ORDER BY position", [execution_id]).fetchall()
        return execution_from_row({"body": json.loads(row["body"])}, [_task_run(run) for run in runs])

    def logs(self, execution_id: str, *, min_level: LogLevel | str | None = None) -> list[LogEntry]:
        """``LogRepository.for_execution`` with a level filter."""
        levels = levels_from(min_level)
        marks = ", ".join("?" * len(levels))
        with self._read() as tx:
            rows = tx.execute(f"SELECT * FROM logs WHERE execution_id = ? AND level IN ({marks}) "
                              "ORDER BY id", [execution_id, *levels]).fetchall()
        return [log_entry({**dict(row), "timestamp": stored_datetime(row["timestamp"])}) for row in rows]

    def metrics(self, execution_id: str) -> list[MetricEntry]:
        """``TaskMetricRepository.for_execution``."""
        with self._read() as tx:
            rows = tx.execute("SELECT * FROM task_run_metrics WHERE execution_id = ? ORDER BY id",
                              [execution_id]).fetchall()
        return [metric_entry({**dict(row), "tags": json_value(row["tags"]),
                              "timestamp": stored_datetime(row["timestamp"])}) for row in rows]

    def kv_list(self, namespace: str, now: datetime) -> list[KVValue]:
        """``KVRepository.list``: the keys not expired at ``now``, sorted."""
        with self._read() as tx:
            rows = tx.execute("SELECT * FROM kv WHERE namespace = ? AND (expiration IS NULL OR expiration > ?) "
                              "ORDER BY key", [namespace, _bound_datetime(now)]).fetchall()
        return [_kv(row) for row in rows]

    def kv_get(self, namespace: str, key: str, now: datetime) -> KVValue | None:
        """``KVRepository.get``: None if absent; raises KVExpired if expired at ``now``."""
        with self._read() as tx:
            row = tx.execute("SELECT * FROM kv WHERE namespace = ? AND key = ?", [namespace, key]).fetchone()
        entry = _kv(row) if row is not None else None
        if entry is not None and entry.expiration is not None and entry.is_expired(now):
            raise KVExpired(namespace, key, entry.expiration)
        return entry

    def flows(self, namespace: str | None = None) -> list[FlowRevision]:
        """``FlowRepository.list``: the latest revision of each flow not deleted, by namespace then id."""
        where, parameters = "", []
        if namespace is not None:
            where = "AND (f.namespace = ? OR f.namespace LIKE ? ESCAPE '/') "
            parameters = [namespace, _like_prefix(namespace + ".")]
        with self._read() as tx:
            rows = tx.execute("SELECT f.* FROM flows f JOIN (SELECT namespace, flow_id, max(revision) AS revision "
                              "FROM flows GROUP BY namespace, flow_id) latest ON f.namespace = latest.namespace "
                              "AND f.flow_id = latest.flow_id AND f.revision = latest.revision "
                              f"WHERE f.deleted = 0 {where}ORDER BY f.namespace, f.flow_id", parameters).fetchall()
        return [_flow(row) for row in rows]

    def flow(self, namespace: str, flow_id: str) -> FlowRevision | None:
        """``FlowRepository.get``: the latest revision, None if missing or deleted."""
        with self._read() as tx:
            row = tx.execute("SELECT * FROM flows WHERE namespace = ? AND flow_id = ? ORDER BY revision DESC "
                             "LIMIT 1", [namespace, flow_id]).fetchone()
        found = _flow(row) if row is not None else None
        return None if found is None or found.deleted else found

    def trigger_states(self) -> list[TriggerState]:
        """``TriggerStateRepository.list``."""
        with self._read() as tx:
            rows = tx.execute("SELECT * FROM trigger_state ORDER BY namespace, flow_id, trigger_id").fetchall()
        return [trigger_state_of({**dict(row), "backfill": json_value(row["backfill"]),
                                  "data": json_value(row["data"]), "disabled": bool(row["disabled"]),
                                  **{name: stored_datetime(row[name]) for name in
                                     ("next_date", "last_date", "updated", "last_error_date")}})
                for row in rows]

    def trigger_logs(self, namespace: str, flow_id: str, *, trigger_id: str | None = None,
                     limit: int = 100) -> list[LogEntry]:
        """``LogRepository.for_flow``: the latest ``limit`` logs written outside any execution, oldest first."""
        where, parameters = "", [namespace, flow_id]
        if trigger_id is not None:
            where, parameters = "AND trigger_id = ? ", [*parameters, trigger_id]
        with self._read() as tx:
            rows = tx.execute("SELECT * FROM logs WHERE namespace = ? AND flow_id = ? AND execution_id IS NULL "
                              f"{where}ORDER BY id DESC LIMIT ?", [*parameters, limit]).fetchall()
        return [log_entry({**dict(row), "timestamp": stored_datetime(row["timestamp"])}) for row in reversed(rows)]


def _flow(row: sqlite3.Row) -> FlowRevision:
    return flow_revision({**dict(row), "deleted": bool(row["deleted"]), "created": stored_datetime(row["created"])})


def _task_run(row: sqlite3.Row) -> TaskRun:
    run = task_run_content({"body": json.loads(row["body"]), "attempts": json.loads(row["attempts"]),
                            "outputs": json.loads(row["outputs"])})
    lease_until = datetime.fromisoformat(row["lease_until"]) if row["lease_until"] is not None else None
    return with_raw_lease(run, (row["attempt"], row["worker_id"], lease_until))


def _kv(row: sqlite3.Row) -> KVValue:
    return kv_value({**dict(row), "value": json_value(row["value"]), "expiration": stored_datetime(row["expiration"]),
                     "created": stored_datetime(row["created"]), "updated": stored_datetime(row["updated"])})

