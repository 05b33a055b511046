"""L1 pure core: SQL tasks (``io.kestra.plugin.jdbc.{postgresql,duckdb,sqlite}.*``).

Options models with Kestra's property set. ``Query``/``Queries`` of the three databases run
(engine/tasks/sql_tasks.py, docs/sql.md); ``CopyIn``/``CopyOut`` validate only (``implemented=False``).
"""
from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec

POSTGRES = "io.kestra.plugin.jdbc.postgresql."


class FetchType(str, Enum):
    FETCH = "FETCH"
    FETCH_ONE = "FETCH_ONE"
    STORE = "STORE"
    NONE = "NONE"


class SslMode(str, Enum):
    DISABLE = "DISABLE"
    ALLOW = "ALLOW"
    PREFER = "PREFER"
    REQUIRE = "REQUIRE"
    VERIFY_CA = "VERIFY_CA"
    VERIFY_FULL = "VERIFY_FULL"


class CopyFormat(str, Enum):
    TEXT = "TEXT"
    CSV = "CSV"
    BINARY = "BINARY"


class _Connection(TaskOptions):
    url: str = dynamic(..., "JDBC URL, e.g. jdbc:postgresql://localhost:5432/db.")
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)
    time_zone_id: str | None = dynamic(None, "Zone used to read dates without a zone.")


class _PostgresConnection(_Connection):
    ssl: bool | None = None
    ssl_mode: SslMode | None = None
    ssl_root_cert: str | None = dynamic(None, "CA certificate (PEM).")
    ssl_cert: str | None = dynamic(None, "Client certificate (PEM).")
    ssl_key: str | None = dynamic(None, "Client key (PEM).")
    ssl_key_password: str | None = dynamic(None)


class Fetching(TaskOptions):
    sql: str = dynamic(..., "SQL to run.", min_length=1)
    parameters: dict[str, Any] | None = dynamic(None, "Named parameters bound in the SQL (:name).")
    fetch_type: FetchType = FetchType.NONE
    fetch: bool | None = Field(None, description="Deprecated: fetchType FETCH.")
    fetch_one: bool | None = Field(None, description="Deprecated: fetchType FETCH_ONE.")
    store: bool | None = Field(None, description="Deprecated: fetchType STORE.")
    fetch_size: int = Field(10000, ge=1)
    auto_commit: bool | None = Field(None, description="Removed in Kestra 0.23: refused when running.")
    after_sql: str | None = dynamic(None, "SQL run after the main statements, in the same transaction.",
                                    alias="afterSQL")


class PostgresQuery(Fetching, _PostgresConnection):
    pass


class PostgresQueries(PostgresQuery):
    transaction: bool = Field(True, description="Run every statement in one transaction.")


class _Copy(_PostgresConnection):
    table: str | None = dynamic(None, "Table to copy into or from.")
    format: CopyFormat = CopyFormat.TEXT
    oids: bool | None = None
    freeze: bool | None = None
    delimiter: str | None = None
    null_string: str | None = None
    header: bool | None = None
    quote: str | None = None
    escape: str | None = None
    force_quote: list[str] | None = None
    force_not_null: list[str] | None = None
    force_null: list[str] | None = None
    encoding: str | None = None
    columns: list[str] | None = None


class CopyIn(_Copy):
    from_: str = dynamic(..., "kestra:// URI of the file to load.")


class CopyOut(_Copy):
    sql: str | None = dynamic(None, "A query to export instead of a table.")

    @model_validator(mode="after")
    def _table_or_sql(self) -> CopyOut:
        if self.table is None and self.sql is None:
            raise ValueError("CopyOut needs 'table' or 'sql'")
        return self


class _LocalDatabase(Fetching):
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)
    time_zone_id: str | None = dynamic(None)
    output_db_file: bool | None = None
    input_files: dict[str, str] | str | None = dynamic(None, "Files put in the working directory.")
    output_files: list[str] | None = dynamic(None, "Files of the working directory kept as outputs.")


class DuckdbQuery(_LocalDatabase):
    url: str = dynamic("jdbc:duckdb:", "jdbc:duckdb: (in memory) or jdbc:duckdb:path (in the working directory).")
    database_uri: str | None = dynamic(None, "kestra:// URI of a database file to start from.")


class DuckdbQueries(DuckdbQuery):
    transaction: bool = Field(True, description="Run every statement in one transaction.")


class SqliteQuery(_LocalDatabase):
    url: str = dynamic(..., "jdbc:sqlite::memory: or jdbc:sqlite:path (in the working directory).")
    sqlite_file: str | None = dynamic(None, "kestra:// URI of a database file to start from.")


class SqliteQueries(SqliteQuery):
    transaction: bool = Field(True, description="Run every statement in one transaction.")


def _spec(type_name: str, model: type[TaskOptions], title: str, example: str, run: str | None = None,
          probe: Callable[[], str | None] | None = None) -> PluginSpec:
    return PluginSpec(type=type_name, kind=PluginKind.RUNNABLE, options=model, title=title,
                      examples=(example,), implemented=run is not None, probe=probe,
                      implementation=f"engine.tasks.sql_tasks:{run}" if run else None)


def _needs(module: str, extra: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        from engine.plugins.availability import requires_module  # looks at the environment: not L1

        return requires_module(module, f"install it with: pip install 'podium[{extra}]'")()

    return probe


DUCKDB = "io.kestra.plugin.jdbc.duckdb."
SQLITE = "io.kestra.plugin.jdbc.sqlite."


SPECS: list[PluginSpec] = [
    _spec(POSTGRES + "Query", PostgresQuery, "Run a PostgreSQL query.",
          "id: query\ntype: io.kestra.plugin.jdbc.postgresql.Query\nurl: jdbc:postgresql://localhost:5432/db\n"
          "sql: SELECT 1\nfetchType: FETCH_ONE", "run_postgres_query", _needs("psycopg", "postgres")),
    _spec(POSTGRES + "Queries", PostgresQueries, "Run several PostgreSQL statements.",
          "id: ddl\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nurl: jdbc:postgresql://localhost:5432/db\n"
          "sql: CREATE TABLE a (id int); CREATE TABLE b (id int);", "run_postgres_queries",
          _needs("psycopg", "postgres")),
    _spec(POSTGRES + "CopyIn", CopyIn, "Load a file into a PostgreSQL table with COPY.",
          "id: load\ntype: io.kestra.plugin.jdbc.postgresql.CopyIn\nurl: jdbc:postgresql://localhost:5432/db\n"
          "table: trips\nfrom: \"{{ outputs.extract.uri }}\"\nformat: CSV\nheader: true"),
    _spec(POSTGRES + "CopyOut", CopyOut, "Export a PostgreSQL table or query with COPY.",
          "id: export\ntype: io.kestra.plugin.jdbc.postgresql.CopyOut\nurl: jdbc:postgresql://localhost:5432/db\n"
          "table: trips\nformat: CSV\nheader: true"),
    _spec(DUCKDB + "Query", DuckdbQuery, "Run one DuckDB statement.",
          "id: query\ntype: io.kestra.plugin.jdbc.duckdb.Query\nsql: SELECT 42 AS answer\nfetchType: FETCH_ONE",
          "run_duckdb_query", _needs("duckdb", "duckdb")),
    _spec(DUCKDB + "Queries", DuckdbQueries, "Run several DuckDB statements in one transaction.",
          "id: queries\ntype: io.kestra.plugin.jdbc.duckdb.Queries\nsql: CREATE TABLE t AS SELECT 1 AS a; "
          "SELECT * FROM t\nfetchType: FETCH", "run_duckdb_queries", _needs("duckdb", "duckdb")),
    _spec(SQLITE + "Query", SqliteQuery, "Run one SQLite statement.",
          "id: query\ntype: io.kestra.plugin.jdbc.sqlite.Query\nurl: jdbc:sqlite:data.db\nsql: SELECT 1 AS one\n"
          "fetchType: FETCH_ONE", "run_sqlite_query"),
    _spec(SQLITE + "Queries", SqliteQueries, "Run several SQLite statements in one transaction.",
          "id: queries\ntype: io.kestra.plugin.jdbc.sqlite.Queries\nurl: jdbc:sqlite::memory:\n"
          "sql: CREATE TABLE t (a int); INSERT INTO t VALUES (1); SELECT * FROM t\nfetchType: FETCH",
          "run_sqlite_queries"),
]
