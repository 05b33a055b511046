"""The SQLite reads of the read-only commands (stdlib sqlite3) give what the repositories give, on
one database holding every kind of record they read; anything they cannot read is left to the
repositories."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cli.reads import RepositoryReads
from engine.persistence.db import Database
from engine.persistence.executions import ExecutionRepository
from engine.persistence.flows import FlowRepository
from engine.persistence.kv_entries import KVExpired, KVRepository
from engine.persistence.logs import LogEntry, LogRepository
from engine.persistence.records import MetricEntry
from engine.persistence.sqlite_reads import SqliteReads, open_sqlite_reads
from engine.persistence.task_metrics import TaskMetricRepository
from engine.persistence.triggers import TriggerState, TriggerStateRepository
from engine.state import State
from tests.persistence.factories import at, execution, finish

NOW = at(3600)
FLOW = ("id: hello\nnamespace: company.team\ntasks:\n"
        "  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")


@pytest.fixture
def filled(sqlite_url: str) -> Iterator[tuple[Database, SqliteReads]]:
    db = Database(sqlite_url)
    _fill(db)
    reads = open_sqlite_reads(sqlite_url)
    assert reads is not None
    yield db, reads
    reads.close()
    db.dispose()


def _fill(db: Database) -> None:
    executions = ExecutionRepository(db)
    first = execution(runs=3, now=at(0))
    runs = list(first.task_run_list)
    runs[0] = finish(runs[0], at(5), {"n": 42, "nested": {"a": [1, None]}})
    running = runs[1].with_state(State.RUNNING, at(6))
    executions.create(first.model_copy(update={"task_run_list": tuple(runs[:1]) + (running, runs[2])}),
                      lease_until={running.id: at(60)})
    for index, (namespace, state) in enumerate([("company", State.SUCCESS), ("company.team.sub", State.FAILED),
                                                ("companyx", State.RUNNING), ("other", State.SUCCESS)]):
        executions.create(execution(namespace, f"f{index}", state=state, now=at(index * 10), labels={"k": "v"}))
    deleted = execution("company.team", "gone", now=at(99))
    executions.create(deleted)
    executions.delete(deleted.id)
    LogRepository(db).append([
        LogEntry(namespace="company.team", flow_id="hello", execution_id=first.id, task_run_id=runs[0].id,
                 task_id="t0", attempt_number=1, level=level, timestamp=at(i), message=f"line {i} \u00e9")
        for i, level in enumerate(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])])
    LogRepository(db).append([
        LogEntry(namespace="company.team", flow_id="hello", trigger_id=f"tr{i % 2}", level="WARN",
                 timestamp=at(i), message=f"trigger {i}") for i in range(5)])
    TaskMetricRepository(db).append([
        MetricEntry(namespace="company.team", flow_id="hello", execution_id=first.id, task_run_id=runs[0].id,
                    task_id="t0", name=f"m{i}", type="counter" if i else "timer", value=1.5 * i,
                    timestamp=at(i), tags={"env": "dev"} if i else {}, attempt=1) for i in range(3)])
    kv = KVRepository(db)
    for key, value in [("s", "text"), ("i", 42), ("f", 1.5), ("b", True), ("dt", datetime(2024, 1, 2, tzinfo=UTC)),
                       ("d", date(2024, 1, 2)), ("dur", timedelta(minutes=5)), ("j", {"a": [1, None]}),
                       ("l", [1, "two"]), ("n", {"none": None})]:
        kv.set("dev", key, value, at(0))
    kv.set("dev", "soon", "x", at(0), ttl=timedelta(hours=2))
    kv.set("dev", "old", "x", at(0), ttl=timedelta(seconds=1))
    kv.set("dev.child", "c", 1, at(0))
    flows = FlowRepository(db)
    flows.save("company.team", "hello", FLOW, at(0))
    flows.save("company.team", "hello", FLOW + "description: two\n", at(1))
    flows.save("company", "dropped", FLOW, at(0))
    flows.delete("company", "dropped", at(2))
    flows.save("companyx", "near", FLOW, at(0))
    states = TriggerStateRepository(db)
    states.save(TriggerState("company.team", "hello", "daily", next_date=at(100), last_date=at(50),
                             last_execution_id=first.id, data={"kind": "schedule", "dates": ["x"]},
                             last_error="boom", last_error_date=at(51)), at(52))
    states.save(TriggerState("company.team", "hello", "off", disabled=True, backfill={"start": "s"}), at(53))


def test_every_read_gives_what_the_repositories_give(filled: tuple[Database, SqliteReads]) -> None:
    db, fast = filled
    slow = RepositoryReads(db)
    for filters in [{}, {"namespace": "company"}, {"namespace": "company.team"}, {"flow_id": "f0"},
                    {"state": State.SUCCESS}, {"size": 2}, {"namespace": "comp%"}]:
        assert fast.executions(**filters) == slow.executions(**filters), filters  # type: ignore[arg-type] # mixed filters
    page = slow.executions()
    assert page.total == 5
    for item in page.items:
        assert fast.execution(item.id) == slow.execution(item.id)
    assert fast.execution("missing") is None and slow.execution("missing") is None
    first = next(e for e in page.items if e.flow_id == "hello")
    assert fast.execution(first.id).task_run_list[1].attempts == slow.execution(first.id).task_run_list[1].attempts  # type: ignore[union-attr] # found above
    for level in (None, "DEBUG", "WARN", "ERROR"):
        assert fast.logs(first.id, min_level=level) == slow.logs(first.id, min_level=level)
    assert len(fast.logs(first.id, min_level="WARN")) == 2
    assert fast.metrics(first.id) == slow.metrics(first.id) and len(fast.metrics(first.id)) == 3
    assert fast.kv_list("dev", NOW) == slow.kv_list("dev", NOW)
    assert [e.key for e in fast.kv_list("dev", NOW)] == ["b", "d", "dt", "dur", "f", "i", "j", "l", "n", "s", "soon"]
    for key in ("s", "i", "f", "b", "dt", "d", "dur", "j", "l", "n", "missing"):
        assert fast.kv_get("dev", key, NOW) == slow.kv_get("dev", key, NOW), key
    with pytest.raises(KVExpired):
        fast.kv_get("dev", "old", NOW)
    for namespace in (None, "company", "company.team", "nothing"):
        assert fast.flows(namespace) == slow.flows(namespace), namespace
    assert [(f.namespace, f.flow_id, f.revision) for f in fast.flows()] == [
        ("company.team", "hello", 2), ("companyx", "near", 1)]
    for name in ("hello", "dropped", "missing"):
        assert fast.flow("company.team", name) == slow.flow("company.team", name)
    assert fast.flow("company", "dropped") is None
    assert fast.trigger_states() == slow.trigger_states() and len(fast.trigger_states()) == 2
    for trigger_id in (None, "tr0", "tr1"):
        for limit in (2, 100):
            assert (fast.trigger_logs("company.team", "hello", trigger_id=trigger_id, limit=limit)
                    == slow.trigger_logs("company.team", "hello", trigger_id=trigger_id, limit=limit))


def test_only_an_sqlite_file_at_the_shipped_head_is_read_directly(tmp_path: Path, sqlite_url: str) -> None:
    assert open_sqlite_reads(f"sqlite:///{tmp_path / 'absent.db'}") is None
    assert not (tmp_path / "absent.db").exists()  # nothing created: the repositories create and migrate
    assert open_sqlite_reads("sqlite://") is None
    assert open_sqlite_reads("postgresql+psycopg://u@localhost/db") is None
    assert open_sqlite_reads(sqlite_url + "?timeout=5") is None
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert open_sqlite_reads(sqlite_url) is None  # an older schema: the repositories migrate it first
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert open_sqlite_reads(f"sqlite:///{empty}") is None
