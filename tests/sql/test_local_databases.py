"""SQLite and DuckDB Query/Queries through run_task, on real databases in the working directory."""
from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest

from engine import ion
from engine.state import State
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

KINDS = [("io.kestra.plugin.jdbc.sqlite.", "jdbc:sqlite::memory:"), ("io.kestra.plugin.jdbc.duckdb.", "jdbc:duckdb:")]
TABLE = ("CREATE TABLE t (id INTEGER, name VARCHAR(10), price DECIMAL(6,2));"
         "INSERT INTO t VALUES (1, 'a', 1.50), (2, NULL, 2.25);")


def _task(prefix: str, url: str, kind: str, **props: Any) -> dict[str, Any]:
    return {"type": prefix + kind, "url": url, **props}


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_fetch_one_and_fetch(run: Run, prefix: str, url: str) -> None:
    one = run(_task(prefix, url, "Query", sql="SELECT 42 AS answer, 'x' AS s", fetchType="FETCH_ONE"))
    assert one.state is State.SUCCESS, one.error
    assert one.outputs == {"row": {"answer": 42, "s": "x"}, "size": 1}
    many = run(_task(prefix, url, "Queries", sql=TABLE + "SELECT id, name FROM t ORDER BY id", fetchType="FETCH"))
    assert many.state is State.SUCCESS, many.error
    assert many.outputs == {"outputs": [{"rows": [{"id": 1, "name": "a"}, {"id": 2, "name": None}], "size": 2}]}


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_store_writes_ion_lines(run: Run, world: World, prefix: str, url: str) -> None:
    outcome = run(_task(prefix, url, "Queries", sql=TABLE + "SELECT * FROM t ORDER BY id", fetchType="STORE"))
    assert outcome.state is State.SUCCESS, outcome.error
    [result] = outcome.outputs["outputs"]
    assert result["size"] == 2
    text = world.storage.get(result["uri"]).decode()
    assert len(text.splitlines()) == 2 and text.endswith("\n")
    rows = list(ion.read_records(io.BytesIO(text.encode())))
    assert rows[0]["id"] == 1 and rows[1]["name"] is None
    assert Decimal(str(rows[0]["price"])) == Decimal("1.50")


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_query_refuses_several_statements(run: Run, prefix: str, url: str) -> None:
    outcome = run(_task(prefix, url, "Query", sql="SELECT 1; SELECT 2"))
    assert outcome.state is State.FAILED
    assert "supports only a single SQL statement" in (outcome.error or "")


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_queries_are_all_or_nothing(run: Run, prefix: str, url: str) -> None:
    failed = run(_task(prefix, "jdbc:" + prefix.split(".")[-2] + ":db.db", "Queries",
                       sql="CREATE TABLE t (a INT); INSERT INTO t VALUES (1); SELECT * FROM missing_table"))
    assert failed.state is State.FAILED
    assert "missing_table" in (failed.error or "") and "Traceback" not in (failed.error or "")
    assert "\n" not in (failed.error or "")


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_parameters_and_after_sql(run: Run, prefix: str, url: str) -> None:
    outcome = run(_task(prefix, url, "Queries", sql="CREATE TABLE t (a INT, s VARCHAR); "
                        "INSERT INTO t VALUES (:a, :s); SELECT a, s, ':a' AS literal FROM t",
                        parameters={"a": 7, "s": "it's"}, afterSQL="SELECT count(*) AS n FROM t",
                        fetchType="FETCH_ONE"))
    assert outcome.state is State.SUCCESS, outcome.error
    assert [o["row"] for o in outcome.outputs["outputs"]] == [{"a": 7, "s": "it's", "literal": ":a"}, {"n": 1}]


@pytest.mark.parametrize(("prefix", "url"), KINDS)
def test_autocommit_is_refused(run: Run, prefix: str, url: str) -> None:
    outcome = run(_task(prefix, url, "Query", sql="SELECT 1", autoCommit=True))
    assert outcome.state is State.FAILED and "autocommit was removed" in (outcome.error or "")


@pytest.mark.parametrize(("prefix", "url"), [(p, u) for p, u in KINDS])
def test_a_host_database_file_is_refused(run: Run, prefix: str, url: str, tmp_path: Any) -> None:
    name = prefix.split(".")[-2]
    outcome = run(_task(prefix, f"jdbc:{name}:{tmp_path}/host.db", "Query", sql="SELECT 1"))
    assert outcome.state is State.FAILED and "inside the task's working directory" in (outcome.error or "")
    assert not (tmp_path / "host.db").exists()


def test_sqlite_refuses_attach(run: Run, tmp_path: Any) -> None:
    outcome = run(_task("io.kestra.plugin.jdbc.sqlite.", "jdbc:sqlite::memory:", "Query",
                        sql=f"ATTACH DATABASE '{tmp_path}/other.db' AS other"))
    assert outcome.state is State.FAILED and "not authorized" in (outcome.error or "")


def test_duckdb_reads_input_files_and_writes_output_files(run: Run, world: World) -> None:
    source = world.storage.put("kestra:///company/team/flow/executions/exec1/inputs/f/in.csv", b"a,b\n1,x\n2,y\n")
    outcome = run(_task("io.kestra.plugin.jdbc.duckdb.", "jdbc:duckdb:", "Query",
                        sql="COPY (SELECT sum(a) AS total FROM read_csv_auto('{{ workingDir }}/in.csv', header=True)) "
                            "TO '{{ outputFiles.out }}' (HEADER, DELIMITER ',')",
                        inputFiles={"in.csv": source}, outputFiles=["out"], outputDbFile=True))
    assert outcome.state is State.SUCCESS, outcome.error
    assert world.storage.get(outcome.outputs["outputFiles"]["out"]).decode().split() == ["total", "3"]
    assert world.storage.get(outcome.outputs["databaseUri"])[:4] != b""


def test_duckdb_cannot_read_host_files(run: Run) -> None:
    outcome = run(_task("io.kestra.plugin.jdbc.duckdb.", "jdbc:duckdb:", "Query",
                        sql="SELECT * FROM read_csv_auto('/etc/passwd')", fetchType="FETCH"))
    assert outcome.state is State.FAILED and "/etc/passwd" in (outcome.error or "")


def test_sqlite_database_uri_round_trip(run: Run, world: World) -> None:
    first = run(_task("io.kestra.plugin.jdbc.sqlite.", "jdbc:sqlite:", "Queries",
                      sql="CREATE TABLE t (a INT); INSERT INTO t VALUES (5)", outputDbFile=True))
    assert first.state is State.SUCCESS, first.error
    second = run(_task("io.kestra.plugin.jdbc.sqlite.", "jdbc:sqlite:", "Query",
                       sqliteFile=first.outputs["databaseUri"], sql="SELECT a FROM t", fetchType="FETCH_ONE"))
    assert second.outputs["row"] == {"a": 5}, second.error


def test_duckdb_relative_paths_are_refused(run: Run) -> None:
    # DuckDB checks a relative path against the process's folder, not the working directory: allowing
    # them would open every host file; files are named {{ workingDir }}/name instead.
    outcome = run(_task("io.kestra.plugin.jdbc.duckdb.", "jdbc:duckdb:", "Query",
                        sql="SELECT * FROM read_csv_auto('etc/passwd')", fetchType="FETCH"))
    assert outcome.state is State.FAILED and "Permission Error" in (outcome.error or "")
