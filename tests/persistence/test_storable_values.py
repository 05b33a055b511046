"""What PostgreSQL refuses is stored the same way on both databases (engine/persistence/types.py):
a NUL character as U+FFFD, a NaN or an infinity as a string; labels too large for the index
stay out of it; a refused write is told apart from a database that is away."""
from __future__ import annotations

import json
import math
import random
import string
from typing import Any

import pytest
from sqlalchemy import exc

from engine.model.execution import Label
from engine.model.task import LogLevel
from engine.persistence.base import refusal, refused
from engine.persistence.db import Database
from engine.persistence.executions import ExecutionRepository
from engine.persistence.leases import LeaseRepository, PendingResult
from engine.persistence.logs import LogEntry, LogRepository
from engine.storable import dumps_json
from tests.persistence.factories import at, execution

REPLACED = "\ufffd"


def _event(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TaskRunResult", "task_run_id": "r1", "attempt_number": 1, "state": "SUCCESS",
            "outputs": outputs}


def _put_and_read(db: Database, outputs: dict[str, Any]) -> dict[str, Any]:
    leases = LeaseRepository(db)
    leases.put_results([PendingResult("e1", "r1", 1, _event(outputs), at(0), at(60))])
    [event] = leases.waiting_events("e1")
    return dict(event["outputs"])


def test_a_nul_in_a_log_line_is_stored_as_a_replacement_character(db: Database) -> None:
    logs = LogRepository(db)
    logs.append([LogEntry(namespace="ns", flow_id="f", execution_id="e1", task_run_id="r1", task_id="t1",
                          attempt_number=1, level=LogLevel.INFO, timestamp=at(0), message="a\x00b")])
    assert [line.message for line in logs.for_execution("e1")] == [f"a{REPLACED}b"]


def test_json_values_are_stored_alike_on_both_databases(db: Database) -> None:
    outputs = {"nul": "x\x00y", "key\x00": 1, "deep": [{"v": "\x00"}], "nan": math.nan,
               "big": [math.inf, -math.inf], "text": "\\u0000 is six characters", "slash": "\\\x00"}
    assert _put_and_read(db, outputs) == {
        "nul": f"x{REPLACED}y", f"key{REPLACED}": 1, "deep": [{"v": REPLACED}], "nan": "NaN",
        "big": ["Infinity", "-Infinity"], "text": "\\u0000 is six characters", "slash": f"\\{REPLACED}"}


def test_the_json_serializer_leaves_other_values_as_they_are() -> None:
    value = {"a": [1, 2.5, None, True], "é": "\\\\u0000 😀", "pair": json.loads('"\\ud83d\\ude00"')}
    assert json.loads(dumps_json(value)) == value


def test_a_lone_surrogate_is_stored_as_a_replacement_character(db: Database) -> None:
    lone = json.loads('"a\\ud800b"')  # what a JSON text with half of a UTF-16 pair decodes to
    assert _put_and_read(db, {"lone": lone, "emoji": "😀"}) == {"lone": f"a{REPLACED}b", "emoji": "😀"}
    logs = LogRepository(db)
    logs.append([LogEntry(namespace="ns", flow_id="f", execution_id="e2", level=LogLevel.INFO, timestamp=at(0),
                          message=lone)])
    assert [line.message for line in logs.for_execution("e2")] == [f"a{REPLACED}b"]


def test_labels_too_large_for_the_index_are_kept_in_the_execution_only(db: Database) -> None:
    repository = ExecutionRepository(db)
    noise = "".join(random.Random(7).choice(string.ascii_letters) for _ in range(3000))
    long_key = "k" * 300
    record = execution(labels={"team": "data", "blob": noise, long_key: "v", "nul": "a\x00b"})
    repository.create(record)
    saved = repository.get(record.id)
    assert saved is not None
    assert Label(key="blob", value=noise) in saved.labels and Label(key=long_key, value="v") in saved.labels
    assert Label(key="nul", value=f"a{REPLACED}b") in saved.labels
    assert [e.id for e in repository.list(labels={"team": "data"}).items] == [record.id]
    assert [e.id for e in repository.list(labels={"nul": "a\x00b"}).items] == [record.id]
    assert repository.list(labels={"blob": noise}).items == []  # not in the index, on both databases
    assert repository.list(labels={long_key: "v"}).items == []


def test_a_value_that_cannot_be_written_is_a_refusal(db: Database) -> None:
    with pytest.raises((exc.StatementError, TypeError)) as raised:  # psycopg raises it as it is
        _put_and_read(db, {"object": object()})
    assert refused(raised.value)
    assert refusal(raised.value) == "TypeError: Object of type object is not JSON serializable"


def test_a_database_that_is_away_is_not_a_refusal(postgres_url: str) -> None:
    closed = postgres_url.replace(postgres_url.split("@")[1].split("/")[0], "127.0.0.1:1")
    database = Database(closed)
    try:
        with pytest.raises(exc.OperationalError) as raised:
            LogRepository(database).for_execution("e1")
        assert not refused(raised.value)
    finally:
        database.dispose()
