"""A real Celery worker thread on memory:// (the embedded runtime) against FakeServices."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_prerun

from cli.embedded import EmbeddedRuntime
from engine.dispatch import DEFAULT_QUEUE, EXECUTOR_QUEUE, TaskRunRef
from engine.settings import Settings
from tests.celery.fakes import FakeServices

MEMORY = Settings(broker_url="memory://")  # the in-process broker; the default is podium-fs://


def ref(task_run_id: str, queue: str = DEFAULT_QUEUE, attempt: int = 1) -> TaskRunRef:
    return TaskRunRef(execution_id="exec1", task_run_id=task_run_id, attempt=attempt, task_id=f"t_{task_run_id}",
                      task_type="io.kestra.plugin.core.log.Log", flow="company.team.hello", queue=queue)


@pytest.fixture
def runtime() -> Iterator[EmbeddedRuntime]:
    settings = Settings(broker_url="memory://", worker={"concurrency": 4, "queues": ["default", "gpu"]})
    with EmbeddedRuntime(settings, FakeServices, beat=False) as embedded:
        yield embedded


@pytest.fixture
def routing_keys() -> Iterator[list[tuple[str, str]]]:
    """(task name, queue) of every podium task a worker starts, as the broker delivered it."""
    seen: list[tuple[str, str]] = []

    def remember(sender: Any = None, task: Any = None, **_: Any) -> None:
        if task.name.startswith("podium.") and task.name != "podium.embedded_wake":
            seen.append((task.name, task.request.delivery_info["routing_key"]))

    task_prerun.connect(remember, weak=False)
    yield seen
    task_prerun.disconnect(remember)


def fake(runtime: EmbeddedRuntime) -> FakeServices:
    services = runtime.services
    assert isinstance(services, FakeServices)
    return services


def test_run_task_run_passes_every_field(runtime: EmbeddedRuntime) -> None:
    runtime.dispatcher.dispatch_task_runs([ref("a", attempt=3)])
    [received] = fake(runtime).wait_for("run", 1)
    assert received == ref("a", attempt=3)


def test_process_event_goes_through_the_executor_queue(runtime: EmbeddedRuntime,
                                                      routing_keys: list[tuple[str, str]]) -> None:
    runtime.dispatcher.send_event("exec1", {"type": "RESULT", "state": "SUCCESS", "n": 1})
    assert fake(runtime).wait_for("event", 1) == [("exec1", {"type": "RESULT", "state": "SUCCESS", "n": 1})]
    assert routing_keys == [("podium.process_event", EXECUTOR_QUEUE)]


def test_group_delivers_each_message_once(runtime: EmbeddedRuntime) -> None:
    refs = [ref(f"g{i}") for i in range(40)]
    runtime.dispatcher.dispatch_task_runs(refs)
    received = fake(runtime).wait_for("run", 40)
    runtime.dispatcher.send_event("exec1", {"marker": True})  # behind the group on the same worker
    fake(runtime).wait_for("event", 1)
    assert sorted(r.task_run_id for r in fake(runtime).of_kind("run")) == sorted(r.task_run_id for r in refs)
    assert len(received) == 40


def test_chain_runs_in_order_and_stops_when_a_link_fails(runtime: EmbeddedRuntime) -> None:
    services = fake(runtime)
    services.outcomes["c3"] = False  # c3 did not succeed: c4 and c5 must not start
    runtime.dispatcher.dispatch_task_runs([ref(f"c{i}") for i in range(6)], chain=True)
    services.wait_for("run", 4)
    runtime.dispatcher.dispatch_task_runs([ref("after")])  # a sentinel queued behind the chain
    services.wait_for("run", 5)
    runs = [r.task_run_id for r in services.of_kind("run")]
    assert runs[:4] == ["c0", "c1", "c2", "c3"]
    assert "c4" not in runs and "c5" not in runs


def test_worker_group_queue_is_routed(runtime: EmbeddedRuntime, routing_keys: list[tuple[str, str]]) -> None:
    runtime.dispatcher.dispatch_task_runs([ref("gpu1", queue="gpu"), ref("cpu1")])
    fake(runtime).wait_for("run", 2)
    assert sorted(routing_keys) == [("podium.run_task_run", DEFAULT_QUEUE), ("podium.run_task_run", "gpu")]


def test_kill_skips_queued_task_runs_and_rest_of_chain(runtime: EmbeddedRuntime) -> None:
    services = fake(runtime)  # built first: a kill never builds services just to tell them
    runtime.dispatcher.kill_task_runs([ref("k1")])
    runtime.dispatcher.dispatch_task_runs([ref("k0"), ref("k1"), ref("k2")], chain=True)
    runtime.dispatcher.dispatch_task_runs([ref("after")])
    services.wait_for("run", 2)
    runs = [r.task_run_id for r in services.of_kind("run")]
    assert "k0" in runs and "after" in runs
    assert "k1" not in runs and "k2" not in runs
    assert services.of_kind("kill") == [["k1"]]  # the local services were told too


def test_a_new_attempt_of_a_killed_task_run_still_runs(runtime: EmbeddedRuntime) -> None:
    runtime.dispatcher.kill_task_runs([ref("r1", attempt=1)])
    runtime.dispatcher.dispatch_task_runs([ref("r1", attempt=1)])
    runtime.dispatcher.dispatch_task_runs([ref("r1", attempt=2)])
    [received] = fake(runtime).wait_for("run", 1)
    assert received.attempt == 2


def test_services_are_built_once(runtime: EmbeddedRuntime) -> None:
    runtime.dispatcher.dispatch_task_runs([ref(f"o{i}") for i in range(10)])
    fake(runtime).wait_for("run", 10)
    assert runtime.services is runtime.services
    assert len(fake(runtime).of_kind("run")) == 10


def test_executor_and_worker_round_trip() -> None:
    """Events lead to dispatches lead to events, as the real executor does: 50 hops, in order."""
    class PingPong(FakeServices):
        def run_task_run(self, r: TaskRunRef) -> None:
            super().run_task_run(r)
            assert self.dispatcher is not None
            self.dispatcher.send_event(r.execution_id, {"done": r.attempt})

        def handle_event(self, execution_id: str, event: dict) -> None:  # type: ignore[type-arg]
            super().handle_event(execution_id, event)
            if event["done"] < 50:
                assert self.dispatcher is not None
                self.dispatcher.dispatch_task_runs([ref("p", attempt=event["done"] + 1)])

    with EmbeddedRuntime(MEMORY, PingPong, beat=False) as embedded:
        embedded.dispatcher.dispatch_task_runs([ref("p", attempt=1)])
        events = fake(embedded).wait_for("event", 50)
    assert [event["done"] for _, event in events] == list(range(1, 51))


def test_runtime_starts_and_stops_without_leaking_threads() -> None:
    before = set(threading.enumerate())
    with EmbeddedRuntime(MEMORY, FakeServices, beat=True, beat_interval=0.02) as embedded:
        assert len(set(threading.enumerate()) - before) >= 2  # worker + beat at least
        embedded.services.wait_for("reap", 2)  # type: ignore[attr-defined]
        timers = embedded.services.of_kind("timers")  # type: ignore[attr-defined]
        assert timers and all(t.tzinfo is not None for t in timers)
    leaked = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leaked == []


def test_runtime_refuses_a_network_broker() -> None:
    with pytest.raises(ValueError, match="memory://"):
        EmbeddedRuntime(Settings(broker_url="redis://127.0.0.1:1/0"), FakeServices)
