"""SQL tasks through `podium run`: a SQLite STORE read back by read(), DuckDB, an unreachable server."""
from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Podium, podium, write

__all__ = ["podium"]

FLOW = """\
id: sql_store
namespace: company.team
tasks:
  - id: load
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: "jdbc:sqlite::memory:"
    sql: |
      CREATE TABLE t (id INTEGER, name TEXT);
      INSERT INTO t VALUES (1, 'a'), (2, 'b');
      SELECT id, name FROM t ORDER BY id;
    fetchType: STORE
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.load.outputs[0].uri) }}"
  - id: count
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 40 + 2 AS answer
    fetchType: FETCH_ONE
"""

BAD = """\
id: sql_bad
namespace: company.team
tasks:
  - id: broken
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: jdbc:postgresql://127.0.0.1:1/nowhere
    username: postgres
    password: hunter2-not-shown
    sql: SELECT 1
"""


def test_store_then_read_through_the_cli(podium: Podium, tmp_path: Path) -> None:
    document = podium.run_json(write(tmp_path, "flow.yaml", FLOW))
    assert document["state"]["current"] == "SUCCESS", document
    runs = {r["taskId"]: r for r in document["taskRunList"]}
    assert runs["show"]["outputs"]["value"] == '{id:1,name:"a"}\n{id:2,name:"b"}\n'
    assert runs["load"]["outputs"]["outputs"][0]["size"] == 2
    assert runs["count"]["outputs"] == {"row": {"answer": 42}, "size": 1}


def test_unreachable_server_is_one_line_without_the_password(podium: Podium, tmp_path: Path) -> None:
    result = podium.process("run", str(write(tmp_path, "bad.yaml", BAD)), "--data-dir", str(podium.data_dir))
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "PostgreSQL server 127.0.0.1:1/nowhere" in text, text
    assert "hunter2-not-shown" not in text and "Traceback" not in text
