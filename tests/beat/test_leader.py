"""LeaderRepository: one holder at a time, renewals, takeover after expiry (both dialects)."""
from __future__ import annotations

import threading
from datetime import timedelta

from engine.persistence.db import Database
from engine.persistence.leader import LeaderRepository
from tests.persistence.factories import at

LEASE = timedelta(seconds=5)


def test_first_holder_wins_and_renews(db: Database) -> None:
    locks = LeaderRepository(db)
    assert locks.acquire("beat", "a", at(0), LEASE)
    assert not locks.acquire("beat", "b", at(1), LEASE)
    assert locks.acquire("beat", "a", at(4), LEASE)  # renewal pushes the expiry
    assert not locks.acquire("beat", "b", at(8), LEASE)  # a's lease runs to at(9)
    leader = locks.get("beat")
    assert leader is not None
    assert (leader.holder, leader.expires_at, leader.acquired) == ("a", at(9), at(0))


def test_takeover_after_expiry_and_release(db: Database) -> None:
    locks = LeaderRepository(db)
    assert locks.acquire("beat", "a", at(0), LEASE)
    assert locks.acquire("beat", "b", at(5.001), LEASE)  # a stopped renewing
    assert not locks.acquire("beat", "a", at(6), LEASE)  # a comes back: standby now
    leader = locks.get("beat")
    assert leader is not None and (leader.holder, leader.acquired) == ("b", at(5.001))
    assert not locks.release("beat", "a")
    assert locks.release("beat", "b")
    assert locks.acquire("beat", "a", at(7), LEASE)
    assert locks.acquire("other-role", "b", at(7), LEASE)  # locks are per name


def test_racing_acquirers_get_one_winner(db: Database) -> None:
    locks = LeaderRepository(db)
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def race(holder: str) -> None:
        barrier.wait()
        if locks.acquire("beat", holder, at(0), LEASE):
            wins.append(holder)

    threads = [threading.Thread(target=race, args=(f"h{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
