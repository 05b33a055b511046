"""Batches (worker/batches.py): a fan-out's chunk and a chain link running the links after
it claim their attempts together, write their results together and tell the executor once; what
the budget leaves is given back, claimable again."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from engine.dispatch import TaskRunRef
from engine.persistence.leases import LeaseRepository
from engine.state import State
from tests.services.conftest import Engine, Holding, one_run, runs
from worker.batch_results import Announcement
from worker.batches import Batch, outlasted

FAN_OUT = """
id: fan
namespace: tests.batches
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
{items}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"""

CHAIN = """
id: chain
namespace: tests.batches
tasks:
  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: a}
  - {id: t2, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.t1.value }}b"}
  - {id: t3, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.t2.value }}c"}
"""

FAILING_CHAIN = """
id: failing
namespace: tests.batches
tasks:
  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: a}
  - {id: t2, type: io.kestra.plugin.core.execution.Fail, errorMessage: boom}
  - {id: t3, type: io.kestra.plugin.core.debug.Return, format: c}
"""


def fan_out(n: int) -> str:
    items = "".join(f"      - {{id: p{i}, type: io.kestra.plugin.core.debug.Return, format: v{i}}}\n"
                    for i in range(n))
    return FAN_OUT.format(items=items.rstrip("\n")).replace("id: fan\nnamespace", f"id: fan{n}\nnamespace")


class Events:
    """Counts the events the services send to the executor (they still reach it on drain)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        send = engine.dispatcher.send_event

        def counting(execution_id: str, message: dict[str, Any]) -> None:
            self.count += 1
            send(execution_id, message)

        engine.dispatcher.send_event = counting  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def roomy_budget(request: pytest.FixtureRequest) -> None:
    """A budget no loaded machine spends on these few no-op attempts: tests that need it spent set 0.
    (Only for the tests on the engine: the tests of ``Batch`` alone need no database.)"""
    if "engine" in request.fixturenames:
        request.getfixturevalue("engine").services.env.settings.worker.batch_seconds = 5.0


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []
    bind = engine.services.env.db.engine

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(bind, "before_cursor_execute", record)
    yield seen
    event.remove(bind, "before_cursor_execute", record)


def held_fan_out(engine: Engine, n: int) -> tuple[str, list[TaskRunRef], Holding]:
    holding = engine.hold(*(f"p{i}" for i in range(n)))
    execution = engine.run(fan_out(n))
    refs, holding.held = list(holding.held), []
    assert len(refs) == n
    return execution.id, refs, holding


def held_chain(engine: Engine, source: str) -> tuple[str, list[TaskRunRef]]:
    holding = engine.hold("t1")
    execution = engine.run(source)
    (links,) = holding.held
    return execution.id, list(links)


def test_a_chunk_runs_its_attempts_and_tells_the_executor_once(engine: Engine) -> None:
    execution_id, refs, _ = held_fan_out(engine, 6)
    events = Events(engine)
    engine.worker.run_task_runs(refs)
    assert events.count == 1
    assert LeaseRepository(engine.services.env.db).pending_results() == 6
    engine.drain()  # the one event applies the six results; `after` then runs
    done = engine.get(execution_id)
    assert done.state.current == State.SUCCESS
    assert {run.task_id: run.outputs["value"] for run in done.task_run_list if run.task_id.startswith("p")} == \
        {f"p{i}": f"v{i}" for i in range(6)}
    assert all(len(run.attempts) == 1 for run in done.task_run_list if run.task_id != "fan")


def test_a_chunk_costs_the_same_statements_whatever_its_size(engine: Engine, statements: list[str]) -> None:
    counts = []
    for n in (2, 8):
        _, refs, _ = held_fan_out(engine, n)
        statements.clear()
        engine.worker.run_task_runs(refs)
        counts.append(len(statements))
        engine.drain()
    assert counts[0] == counts[1], statements


def test_a_chunk_skips_an_attempt_another_worker_holds(engine: Engine) -> None:
    execution_id, refs, _ = held_fan_out(engine, 3)
    leases = LeaseRepository(engine.services.env.db)
    assert leases.claim(refs[1].task_run_id, 1, "other-worker", engine.clock())
    engine.worker.run_task_runs(refs)
    engine.drain()
    execution = engine.get(execution_id)
    assert one_run(execution, refs[1].task_id).state.current == State.CREATED  # left to its holder
    assert leases.lease(refs[1].task_run_id)[1] == "other-worker"
    assert [one_run(execution, ref.task_id).state.current for ref in (refs[0], refs[2])] == [State.SUCCESS] * 2


def test_a_spent_budget_gives_the_rest_back_claimable_and_dispatched_again(engine: Engine) -> None:
    engine.services.env.settings.worker.batch_seconds = 0
    execution_id, refs, holding = held_fan_out(engine, 4)
    engine.worker.run_task_runs(refs)
    leases = LeaseRepository(engine.services.env.db)
    assert sorted(ref.task_run_id for ref in holding.held) == sorted(ref.task_run_id for ref in refs[1:])
    assert all(leases.lease(ref.task_run_id)[1] is None for ref in refs[1:])  # released
    engine.drain()
    assert one_run(engine.get(execution_id), refs[0].task_id).state.current == State.SUCCESS
    holding.release()  # the given-back attempts run as the dispatcher sends them again
    engine.drain()
    assert engine.get(execution_id).state.current == State.SUCCESS


def test_a_chain_link_runs_the_links_after_it_with_their_outputs(engine: Engine) -> None:
    execution_id, links = held_chain(engine, CHAIN)
    events = Events(engine)
    result, taken = engine.worker.run_links(links)
    assert taken == 3 and events.count == 1
    assert result == {"runs": {links[0].task_run_id: {"value": "a"}, links[1].task_run_id: {"value": "ab"},
                               links[2].task_run_id: {"value": "abc"}}}
    engine.drain()
    done = engine.get(execution_id)
    assert done.state.current == State.SUCCESS and one_run(done, "t3").outputs == {"value": "abc"}


def test_a_failing_link_stops_the_links_after_it(engine: Engine) -> None:
    execution_id, links = held_chain(engine, FAILING_CHAIN)
    assert engine.worker.run_links(links) == (False, 2)
    assert LeaseRepository(engine.services.env.db).lease(links[2].task_run_id)[1] is None  # released
    engine.drain()
    done = engine.get(execution_id)
    assert done.state.current == State.FAILED
    assert [run.task_id for run in done.task_run_list] == ["t1", "t2"]  # t3 never started: dropped


def test_a_killed_link_stops_the_chain_before_it_runs(engine: Engine) -> None:
    execution_id, links = held_chain(engine, CHAIN)
    result, taken = engine.worker.run_links(links, None, lambda ref: ref.task_id == "t2")
    assert (result, taken) == (False, 2)
    engine.drain()
    assert runs(engine.get(execution_id), "t1")[0].state.current == State.SUCCESS
    assert runs(engine.get(execution_id), "t2")[0].state.current == State.CREATED


def test_a_spent_budget_ends_a_chain_here_and_leaves_the_rest_to_its_next_message(engine: Engine) -> None:
    engine.services.env.settings.worker.batch_seconds = 0
    _, links = held_chain(engine, CHAIN)
    result, taken = engine.worker.run_links(links)
    assert taken == 1 and result == {"runs": {links[0].task_run_id: {"value": "a"}}}
    leases = LeaseRepository(engine.services.env.db)
    assert [leases.lease(link.task_run_id)[1] for link in links[1:]] == [None, None]


def ref(task_run_id: str) -> TaskRunRef:
    return TaskRunRef("e", task_run_id, 1, task_run_id, "Return", "ns.f")


class GivenBack:
    """A batch's ``give_back``: records what it receives and signals the first time."""

    def __init__(self) -> None:
        self.rests: list[list[TaskRunRef]] = []
        self.returned = threading.Event()

    def __call__(self, rest: list[TaskRunRef]) -> None:
        self.rests.append(rest)
        self.returned.set()


def test_the_budget_gives_back_the_rest_while_a_long_attempt_still_runs() -> None:
    given_back = GivenBack()
    batch = Batch([ref("long"), ref("b"), ref("c")], 0.05, given_back)
    assert batch.take() == ref("long")
    assert given_back.returned.wait(10)  # "long" still runs: its siblings went back meanwhile
    assert given_back.rests == [[ref("b"), ref("c")]]
    assert batch.take() is None
    batch.close()
    assert given_back.rests == [[ref("b"), ref("c")]]


def test_a_chunk_gives_back_its_rest_once_it_outlasts_its_patience_long_before_the_budget() -> None:
    given_back = GivenBack()
    batch = Batch([ref("quick"), ref("slow"), ref("c")], 3600, given_back, patience=0.05)
    assert batch.take() == ref("quick")
    assert batch.take() == ref("slow")  # "quick" returned at once: nothing was given back
    assert given_back.rests == []
    assert given_back.returned.wait(10)  # "slow" still runs, an hour before the budget is spent
    assert given_back.rests == [[ref("c")]]
    assert batch.take() is None
    batch.close()


def test_a_chunk_of_quick_attempts_stays_whole_past_its_patience_and_one_of_slow_ones_does_not() -> None:
    assert outlasted(0.05, ran=0.06, current=0.06, taken=1)  # one attempt ran long
    assert not outlasted(0.05, ran=0.06, current=0.001, taken=30)  # 2 ms each: spreading costs more
    assert outlasted(0.05, ran=0.06, current=0.01, taken=3)  # 20 ms each: idle slots would help
    assert not outlasted(0.05, ran=0.04, current=0.02, taken=2)  # not yet


class Announced:
    """Records what an Announcement sends, in place of a LeaseKeeper."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.sent = threading.Event()

    def announce(self, execution_id: str, event: dict[str, Any]) -> None:
        self.events.append((execution_id, event))
        self.sent.set()


def test_a_join_s_result_written_in_time_announces_the_fan_out_s_last_results_too() -> None:
    keeper = Announced()
    announcement = Announcement(keeper, "e", {"n": 1}, after=0.05)  # type: ignore[arg-type]
    announcement.settle(superseded=True)
    assert not keeper.sent.wait(0.2)  # past the delay: the timer was cancelled
    assert keeper.events == []


def test_a_join_without_a_result_announces_them_when_it_is_done() -> None:
    keeper = Announced()
    Announcement(keeper, "e", {"n": 1}, after=3600).settle(superseded=False)  # type: ignore[arg-type]
    assert keeper.events == [("e", {"n": 1})]


def test_a_long_join_lets_them_be_announced_once_after_the_delay() -> None:
    keeper = Announced()
    announcement = Announcement(keeper, "e", {"n": 1}, after=0.05)  # type: ignore[arg-type]
    assert keeper.sent.wait(10)  # the join still runs
    announcement.settle(superseded=True)
    announcement.settle(superseded=False)
    assert keeper.events == [("e", {"n": 1})]


def test_a_chain_has_no_patience_only_its_budget() -> None:
    given_back: list[list[TaskRunRef]] = []
    batch = Batch([ref("long"), ref("b")], 3600, given_back.append)
    assert batch.take() == ref("long")
    time.sleep(0.2)  # a chunk's patience would have given "b" back by now
    assert given_back == []
    assert batch.take() == ref("b")
    batch.close()


def test_the_budget_never_gives_back_the_message_s_own_attempt() -> None:
    given_back: list[list[TaskRunRef]] = []
    batch = Batch([ref("own"), ref("b")], 0.0, given_back.append)
    batch.stop()  # the timer fired before the first take
    assert batch.take() == ref("own")
    batch.close()
    assert given_back == [[ref("b")]]


def test_a_chain_killed_before_delivery_keeps_only_its_first_link(engine: Engine) -> None:
    execution_id, links = held_chain(engine, CHAIN)
    engine.services.kill(execution_id)
    engine.drain()
    assert engine.worker.run_links(links) == (False, 1)
    engine.drain()
    done = engine.get(execution_id)
    assert done.state.current == State.KILLED
    assert {run.task_id: run.state.current for run in done.task_run_list} == {"t1": State.KILLED}


def test_a_chunk_killed_before_delivery_answers_for_every_attempt(engine: Engine) -> None:
    execution_id, refs, _ = held_fan_out(engine, 3)
    engine.services.kill(execution_id)
    engine.drain()
    engine.worker.run_task_runs(refs)
    engine.drain()
    done = engine.get(execution_id)
    assert done.state.current == State.KILLED
    assert [one_run(done, ref.task_id).state.current for ref in refs] == [State.KILLED] * 3


FETCHING_CHAIN = """
id: fetching
namespace: tests.batches
tasks:
  - {id: t1, type: io.kestra.plugin.core.log.Log, message: first line}
  - {id: fetch, type: io.kestra.plugin.core.log.Fetch, tasksId: [t1]}
"""


def test_log_fetch_reads_the_lines_of_links_its_batch_still_holds(engine: Engine) -> None:
    execution_id, links = held_chain(engine, FETCHING_CHAIN)
    _, taken = engine.worker.run_links(links)
    assert taken == 2  # one batch: t1's line was held, not written, when fetch ran
    engine.drain()
    assert one_run(engine.get(execution_id), "fetch").outputs["size"] == 1


def test_results_a_failed_write_kept_are_written_by_the_next_with_a_fake_failing_outbox(engine: Engine) -> None:
    from engine.executor import events as ev
    from worker.batch_results import ResultBuffer
    from worker.lease_keeper import Reported

    calls: list[int] = []

    class FlakyKeeper:
        def report_many(self, execution_id: str, held: list[Any], join: Any = None) -> Reported:
            calls.append(len(held))
            if len(calls) == 1:
                raise ConnectionError("database away")
            return Reported({}, joined=False)

    buffer = ResultBuffer(FlakyKeeper(), "e", every=60)  # type: ignore[arg-type]
    buffer.add(ev.TaskRunResult("r1", 1, State.SUCCESS, {}), (), engine.clock())
    with pytest.raises(ConnectionError):
        buffer.flush()
    buffer.add(ev.TaskRunResult("r2", 1, State.SUCCESS, {}), (), engine.clock())
    buffer.flush()
    assert calls == [1, 2]  # r1 kept, written with r2
