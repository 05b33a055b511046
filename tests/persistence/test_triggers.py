"""TriggerStateRepository and FiredRepository contracts."""
from __future__ import annotations

import threading

import pytest

from engine.persistence.db import Database
from engine.persistence.triggers import FiredRepository, TriggerState, TriggerStateRepository
from tests.persistence.factories import at


@pytest.fixture
def states(db: Database) -> TriggerStateRepository:
    return TriggerStateRepository(db)


@pytest.fixture
def fired(db: Database) -> FiredRepository:
    return FiredRepository(db)


def test_save_get_and_replace(states: TriggerStateRepository) -> None:
    state = TriggerState("ns", "f", "every-minute", next_date=at(60),
                         backfill={"start": at(0).isoformat(), "paused": False})
    saved = states.save(state, at(1))
    assert saved.updated == at(1)
    assert states.get("ns", "f", "every-minute") == saved
    moved = states.save(TriggerState("ns", "f", "every-minute", next_date=at(120),
                                      last_date=at(60), last_execution_id="e1",
                                      data={"cursor": 3}), at(61))
    assert states.get("ns", "f", "every-minute") == moved
    assert states.get("ns", "f", "nope") is None


def test_due_skips_disabled_and_future(states: TriggerStateRepository) -> None:
    states.save(TriggerState("ns", "f", "a", next_date=at(10)), at(0))
    states.save(TriggerState("ns", "f", "b", next_date=at(5)), at(0))
    states.save(TriggerState("ns", "f", "off", next_date=at(1), disabled=True), at(0))
    states.save(TriggerState("ns", "f", "later", next_date=at(99)), at(0))
    states.save(TriggerState("ns", "f", "never"), at(0))
    assert [s.trigger_id for s in states.due(at(10))] == ["b", "a"]


def test_list_and_delete(states: TriggerStateRepository) -> None:
    for flow, trigger in (("f", "a"), ("f", "b"), ("g", "a")):
        states.save(TriggerState("ns", flow, trigger), at(0))
    states.save(TriggerState("other", "f", "a"), at(0))
    assert [(s.flow_id, s.trigger_id) for s in states.list("ns")] == [
        ("f", "a"), ("f", "b"), ("g", "a")]
    assert states.delete("ns", "f", "a") == 1
    assert states.delete("ns", "f") == 1
    assert [(s.namespace, s.flow_id) for s in states.list()] == [("ns", "g"), ("other", "f")]


def test_with_backfill_lists_only_states_holding_a_cursor(states: TriggerStateRepository) -> None:
    states.save(TriggerState("ns", "f", "plain", next_date=at(10)), at(0))
    states.save(TriggerState("ns", "f", "filling", backfill={"start": at(0).isoformat()}), at(0))
    states.save(TriggerState("ns", "g", "cleared", backfill={"start": at(0).isoformat()}), at(0))
    states.save(TriggerState("ns", "g", "cleared", backfill=None), at(1))
    assert [(s.flow_id, s.trigger_id) for s in states.with_backfill()] == [("f", "filling")]


def test_fired_claim_is_idempotent(fired: FiredRepository) -> None:
    assert fired.claim("ns", "f", "t", at(60), at(61), execution_id="e1") is True
    assert fired.claim("ns", "f", "t", at(60), at(62), execution_id="e2") is False
    assert fired.execution_for("ns", "f", "t", at(60)) == "e1"
    # Any other part of the key is another claim.
    assert fired.claim("ns", "f", "t", at(120), at(121)) is True
    assert fired.claim("ns", "f", "other", at(60), at(61)) is True
    assert fired.claim("ns", "g", "t", at(60), at(61)) is True


def test_fired_claim_rolls_back_with_its_session(db: Database, fired: FiredRepository) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        assert fired.claim("ns", "f", "t", at(60), at(61), session=session)
        raise RuntimeError("creating the execution failed")
    assert fired.claim("ns", "f", "t", at(60), at(62)) is True


def test_racing_beats_claim_each_fire_time_once(db: Database) -> None:
    wins: list[list[int]] = [[], []]

    def beat(slot: int) -> None:
        repo = FiredRepository(db)
        for minute in range(30):
            if repo.claim("ns", "f", "t", at(60 * minute), at(0)):
                wins[slot].append(minute)

    threads = [threading.Thread(target=beat, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins[0] + wins[1]) == list(range(30))


def test_prune_forgets_old_claims(fired: FiredRepository) -> None:
    fired.claim("ns", "f", "t", at(0), at(0))
    fired.claim("ns", "f", "t", at(100), at(0))
    assert fired.prune(at(50)) == 1
    assert fired.claim("ns", "f", "t", at(0), at(0)) is True
    assert fired.claim("ns", "f", "t", at(100), at(0)) is False
