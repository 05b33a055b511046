"""The window store on both databases: round trip, claims, and no lost condition under concurrency."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from engine.model.flow import Flow
from engine.model.trigger_key import TriggerKey
from engine.persistence.db import Database
from engine.persistence.flows import FlowRepository
from engine.persistence.trigger_windows import EventKey, TriggerWindowRepository
from engine.plugins.registry import default_registry
from engine.schedule.flow_trigger import Upstream, match
from engine.schedule.flow_window import Window, plan_windows
from engine.state import State
from engine.templating import Renderer

T0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
KEY = TriggerKey("company.team", "listener", "on")


def test_windows_round_trip_and_purge(db: Database) -> None:
    repository = TriggerWindowRepository(db)
    window = Window("both", T0, T0 + timedelta(hours=1), frozenset({"condition_1"}), {"x": 1})
    repository.save(KEY, window, T0)
    assert repository.windows(KEY, T0 + timedelta(minutes=5)) == {"both": window}
    assert repository.windows(KEY, T0 + timedelta(hours=1)) == {}  # the end is excluded
    repository.save(KEY, Window("both", T0, T0 + timedelta(hours=1), frozenset({"condition_1", "condition_2"})), T0)
    assert repository.windows(KEY, T0)["both"].met == {"condition_1", "condition_2"}
    assert repository.purge_expired(T0 + timedelta(minutes=30)) == 0
    assert repository.purge_expired(T0 + timedelta(hours=1)) == 1
    assert repository.list(KEY) == []


def test_an_event_is_claimed_once_per_trigger(db: Database) -> None:
    repository = TriggerWindowRepository(db)
    event = EventKey("exec-1", 3, KEY)
    assert repository.claim_event(event, T0)
    assert not repository.claim_event(event, T0)
    assert repository.claim_event(EventKey("exec-1", 4, KEY), T0)  # another state change
    assert repository.claim_event(EventKey("exec-1", 3, TriggerKey("company.team", "listener", "other")), T0)
    repository.record_fired(event, "child-1")
    assert repository.fired_execution(event) == "child-1"
    assert repository.prune_events(T0 + timedelta(seconds=1)) == 3


def test_latest_revisions_skip_sources(db: Database) -> None:
    flows = FlowRepository(db)
    flows.save("a", "f", "id: f\nnamespace: a\n", T0)
    flows.save("a", "f", "id: f\nnamespace: a\n# v2\n", T0)
    flows.save("a", "g", "id: g\nnamespace: a\n", T0)
    flows.delete("a", "g", T0)
    latest = {(r.namespace, r.flow_id): (r.revision, r.deleted) for r in TriggerWindowRepository(db).latest_revisions()}
    assert latest == {("a", "f"): (2, False), ("a", "g"): (2, True)}


LISTENER = {"id": "listener", "namespace": "company.team",
            "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "m"}],
            "triggers": [{"id": "on", "type": "io.kestra.plugin.core.trigger.Flow", "preconditions": {
                "id": "both", "flows": [{"namespace": "company.team", "flowId": "a"},
                                        {"namespace": "company.team", "flowId": "b"}]}}]}


def evaluate(repository: TriggerWindowRepository, db: Database, upstream: Upstream, now: datetime) -> bool:
    """What FlowTriggerService.claim does: lock, claim, merge, save, in one transaction."""
    flow = Flow.model_validate(LISTENER, context={"registry": default_registry()})
    found = match(flow.triggers[0], "company.team", "listener", upstream, {}, Renderer().render_typed)  # type: ignore[index]
    with db.transaction() as session:
        repository.lock(KEY, session)
        assert repository.claim_event(EventKey(upstream.execution_id, 1, KEY), now, session=session)
        stored = repository.windows(KEY, now, session=session)
        plan = plan_windows([(h.spec, h.met) for h in found.hits], stored, {}, now)
        for window in plan.save:
            repository.save(KEY, window, now, session=session)
        for window in plan.delete:
            repository.delete(KEY, window, session=session)
        return plan.fire


def test_two_ends_at_once_never_lose_a_met_condition(db: Database) -> None:
    repository = TriggerWindowRepository(db)
    for round_ in range(10):
        barrier = threading.Barrier(2)
        fired: list[bool] = []

        def end(flow_id: str, round_: int, barrier: threading.Barrier, fired: list[bool]) -> None:
            upstream = Upstream(f"{flow_id}-{round_}", "company.team", flow_id, 1, State.SUCCESS)
            barrier.wait()
            fired.append(evaluate(repository, db, upstream, T0))

        threads = [threading.Thread(target=end, args=(flow_id, round_, barrier, fired)) for flow_id in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(fired) == [False, True], f"round {round_}: {fired}"
        assert repository.list(KEY) == []  # fired and reset: nothing left half-met
