"""PendingCommandRepository contract (SQLite and PostgreSQL): saved with a step, settled once by
its reply, due for beat at ``replay_at``, postponed by one beat at a time, kept alive."""
from __future__ import annotations

import pytest

from engine.persistence.db import Database
from engine.persistence.pending_commands import PendingCommand, PendingCommandRepository
from tests.persistence.factories import at


@pytest.fixture
def pending(db: Database) -> PendingCommandRepository:
    return PendingCommandRepository(db)


def _command(key: str, second: float, execution_id: str = "e1", payload: dict | None = None) -> PendingCommand:
    return PendingCommand(key, execution_id, key.split(":")[0], payload or {"n": key}, at(0), at(second))


def _put(db: Database, pending: PendingCommandRepository, *commands: PendingCommand) -> None:
    with db.transaction() as session:
        pending.put(list(commands), session=session)


def test_due_commands_come_oldest_first_with_their_payload(db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("merge:late", 30), _command("split:b", 10), _command("subflow:a", 5))
    due = pending.due(at(10))
    assert [c.id for c in due] == ["subflow:a", "split:b"]
    assert due[0].kind == "subflow" and due[0].payload == {"n": "subflow:a"} and due[0].replay_at == at(5)


def test_the_same_command_again_replaces_its_row(db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("ended:x", 10, payload={"reply": True}))
    _put(db, pending, _command("ended:x", 20, payload={"reply": False}))
    [row] = pending.list()
    assert row.payload == {"reply": False} and row.replay_at == at(20)


def test_a_reply_settles_its_command_once(db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("split:r1", 10))
    with db.transaction() as session:
        assert pending.settle("split:r1", session=session)
    with db.transaction() as session:
        assert not pending.settle("split:r1", session=session)  # a repeated reply
    assert pending.list() == []


def test_a_settle_rolled_back_with_its_step_keeps_the_command(db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("merge:r1", 10))
    with pytest.raises(RuntimeError), db.transaction() as session:
        pending.settle("merge:r1", session=session)
        raise RuntimeError("the step failed")
    assert [c.id for c in pending.list()] == ["merge:r1"]


def test_one_beat_at_a_time_takes_a_due_command(pending: PendingCommandRepository, db: Database) -> None:
    _put(db, pending, _command("subflow:a", 5))
    assert pending.postpone("subflow:a", at(10), at(70))
    assert not pending.postpone("subflow:a", at(10), at(70))  # the other beat, the same round
    assert pending.due(at(69)) == [] and [c.id for c in pending.due(at(70))] == ["subflow:a"]


def test_keeping_an_execution_alive_pushes_only_its_earlier_commands(
        db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("subflow:a", 5), _command("subflow:b", 500), _command("subflow:c", 5, "e2"))
    assert pending.extend("e1", at(100)) == 1
    assert {c.id: c.replay_at for c in pending.list()} == {"subflow:a": at(100), "subflow:b": at(500),
                                                           "subflow:c": at(5)}


def test_drop_and_list_by_execution(db: Database, pending: PendingCommandRepository) -> None:
    _put(db, pending, _command("ended:x", 5), _command("retry:y", 5, "e2"))
    assert [c.id for c in pending.list("e2")] == ["retry:y"]
    pending.drop(["ended:x", "missing"])
    assert [c.id for c in pending.list()] == ["retry:y"]
