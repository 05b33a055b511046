"""TimerRepository and QueueRepository contracts: due + claim leases, FIFO queue."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.persistence.db import Database
from engine.persistence.tables import timers as timers_table
from engine.persistence.timers import QueueRepository, Timer, TimerRepository
from tests.persistence.factories import at


@pytest.fixture
def timers(db: Database) -> TimerRepository:
    return TimerRepository(db)


@pytest.fixture
def queue(db: Database) -> QueueRepository:
    return QueueRepository(db)


def _timer(name: str, second: float, execution_id: str | None = "e1") -> Timer:
    return Timer(id=name, due_at=at(second), kind="resume", execution_id=execution_id,
                 task_run_id="r1", payload={"n": name})


def test_due_returns_only_due_timers_oldest_first(timers: TimerRepository) -> None:
    for name, second in (("late", 30), ("b", 10), ("a", 10), ("first", 5)):
        timers.add(_timer(name, second))
    claimed = timers.due(at(10))
    assert [t.id for t in claimed] == ["first", "a", "b"]
    assert claimed[0].payload == {"n": "first"} and claimed[0].claimed_until == at(70)


def test_a_claimed_timer_is_not_due_again_until_its_lease_ends(timers: TimerRepository) -> None:
    timers.add(_timer("t", 0))
    assert [t.id for t in timers.due(at(1), lease=timedelta(seconds=30))] == ["t"]
    assert timers.due(at(2)) == []
    assert timers.due(at(30.5)) == []
    assert [t.id for t in timers.due(at(31))] == ["t"]


def test_release_delete_and_limit(timers: TimerRepository) -> None:
    for i in range(5):
        timers.add(_timer(f"t{i}", i))
    assert [t.id for t in timers.due(at(10), limit=2)] == ["t0", "t1"]
    assert timers.release("t0")
    assert [t.id for t in timers.due(at(10), limit=2)] == ["t0", "t2"]
    assert timers.delete("t0") and not timers.delete("t0")
    assert timers.get("t0") is None


def test_re_adding_an_id_replaces_the_timer_and_its_claim(timers: TimerRepository) -> None:
    timers.add(_timer("t", 0))
    timers.due(at(1))
    timers.add(_timer("t", 5))
    stored = timers.get("t")
    assert stored is not None and (stored.due_at, stored.claimed_until) == (at(5), None)


def test_timers_of_an_execution(timers: TimerRepository) -> None:
    timers.add(_timer("a", 2, "e1"))
    timers.add(_timer("b", 1, "e1"))
    timers.add(_timer("c", 1, "e2"))
    assert [t.id for t in timers.for_execution("e1")] == ["b", "a"]
    assert timers.delete_for_execution("e1") == 2
    assert [t.id for t in timers.due(at(5))] == ["c"]


def test_two_claimers_never_claim_the_same_timer(db: Database) -> None:
    repo = TimerRepository(db)
    for i in range(60):
        repo.add(_timer(f"t{i:02d}", i % 10))
    claimed: list[list[str]] = [[], []]

    def claim(slot: int) -> None:
        own = TimerRepository(db)
        while batch := own.due(at(100), limit=7):
            claimed[slot].extend(t.id for t in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed[0] + claimed[1]) == [f"t{i:02d}" for i in range(60)]
    assert not set(claimed[0]) & set(claimed[1])


@pytest.mark.postgres
def test_claim_skips_rows_locked_by_another_session(postgres_database_url: str) -> None:
    """While another transaction holds some timers, ``due`` takes the others without waiting."""
    db = Database(postgres_database_url)
    repo = TimerRepository(db)
    for name in ("a", "b", "c"):
        repo.add(_timer(name, 0))
    with db.transaction() as other:
        other.execute(select(timers_table).where(timers_table.c.id == "a").with_for_update())
        assert [t.id for t in repo.due(at(1))] == ["b", "c"]
    assert [t.id for t in repo.due(at(1))] == ["a"]
    db.dispose()


def test_queue_is_fifo_per_flow(queue: QueueRepository) -> None:
    first = queue.enqueue("ns", "f", "e1", at(0))
    second = queue.enqueue("ns", "f", "e2", at(1))
    queue.enqueue("ns", "other", "e3", at(0))
    assert second > first
    assert queue.count("ns", "f") == 2 and queue.list("ns", "f") == ["e1", "e2"]
    assert queue.pop("ns", "f") == "e1"
    assert queue.pop("ns", "f") == "e2"
    assert queue.pop("ns", "f") is None
    assert queue.count("ns", "other") == 1


def test_queue_remove(queue: QueueRepository) -> None:
    queue.enqueue("ns", "f", "e1", at(0))
    queue.enqueue("ns", "f", "e2", at(0))
    assert queue.remove("e1") and not queue.remove("e1")
    assert queue.list("ns", "f") == ["e2"]


def test_an_execution_is_queued_once(queue: QueueRepository) -> None:
    from sqlalchemy.exc import IntegrityError

    queue.enqueue("ns", "f", "e1", at(0))
    with pytest.raises(IntegrityError):
        queue.enqueue("ns", "f", "e1", at(1))
