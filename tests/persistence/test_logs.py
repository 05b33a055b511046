"""LogRepository contract: batch append, order, level / task run filters, purge."""
from __future__ import annotations

import pytest

from engine.model.task import LogLevel
from engine.persistence.db import Database
from engine.persistence.logs import LogEntry, LogRepository
from tests.persistence.factories import at


@pytest.fixture
def logs(db: Database) -> LogRepository:
    return LogRepository(db)


def _log(message: str, level: LogLevel = LogLevel.INFO, execution_id: str = "e1",
         task_run_id: str | None = "r1", task_id: str | None = "t1", second: int = 0) -> LogEntry:
    return LogEntry(namespace="ns", flow_id="f", execution_id=execution_id, task_run_id=task_run_id,
                    task_id=task_id, attempt_number=1, level=level, timestamp=at(second),
                    message=message)


def test_append_and_read_back_in_write_order(logs: LogRepository) -> None:
    written = [_log(f"line {i}", second=i) for i in range(5)]
    assert logs.append(written) == 5
    read = logs.for_execution("e1")
    assert [e.message for e in read] == [f"line {i}" for i in range(5)]
    assert read[0].model_copy(update={"id": None}) == written[0]
    assert read[0].to_json()["attemptNumber"] == 1
    assert logs.append([]) == 0


def test_min_level_filter(logs: LogRepository) -> None:
    logs.append([_log(level.value, level) for level in LogLevel])
    assert [e.message for e in logs.for_execution("e1", min_level=LogLevel.WARN)] == ["WARN", "ERROR"]
    assert [e.message for e in logs.for_execution("e1", min_level="INFO")] == [
        "INFO", "WARN", "ERROR"]
    assert len(logs.for_execution("e1")) == 5


def test_task_run_filter_and_execution_scope(logs: LogRepository) -> None:
    logs.append([_log("a", task_run_id="r1"), _log("b", task_run_id="r2", task_id="t2"),
                 _log("c", execution_id="e2"), _log("d", task_run_id=None, task_id=None)])
    assert [e.message for e in logs.for_execution("e1", task_run_id="r2")] == ["b"]
    assert [e.message for e in logs.for_execution("e1", task_id="t1")] == ["a"]
    assert [e.message for e in logs.for_execution("e1")] == ["a", "b", "d"]


def test_after_id_cursor_for_streaming(logs: LogRepository) -> None:
    logs.append([_log("one"), _log("two")])
    first = logs.for_execution("e1", limit=1)
    assert [e.message for e in first] == ["one"]
    assert [e.message for e in logs.for_execution("e1", after_id=first[0].id)] == ["two"]


def test_delete_for_execution(logs: LogRepository) -> None:
    logs.append([_log("a"), _log("b"), _log("c", execution_id="e2")])
    assert logs.delete_for_execution("e1") == 2
    assert logs.for_execution("e1") == []
    assert len(logs.for_execution("e2")) == 1


def test_reader_adapter_returns_kestra_json(logs: LogRepository) -> None:
    logs.append([_log("hello"), _log("debug", LogLevel.DEBUG)])
    found = list(logs.as_reader().find("ns", "f", "e1", task_id=None, min_level=LogLevel.INFO))
    assert [(f["message"], f["level"], f["flowId"]) for f in found] == [("hello", "INFO", "f")]
