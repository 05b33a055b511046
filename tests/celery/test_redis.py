"""The same plumbing on a real Redis: a worker thread, broadcast kills, and the celery CLI."""
from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.embedded import WorkerThread, register_tasks
from engine.dispatch import DEFAULT_QUEUE, TaskRunRef
from engine.settings import Settings
from messaging import redis_transport
from messaging.celery_app import make_celery
from messaging.chunks import BULK_SIZE, FIRST_CHUNKS, chunks
from messaging.dispatch import CeleryDispatcher, celery_task_id
from messaging.kills import kill_switch
from tests.celery.fakes import FakeServices
from tests.celery.procs import CELERY, ROOT, env_for, start_worker, stop
from tests.reliability.conftest import RestartableRedis
from tests.servers import start_redis


def ref(task_run_id: str, attempt: int = 1, queue: str = DEFAULT_QUEUE) -> TaskRunRef:
    return TaskRunRef("exec1", task_run_id, attempt, f"t_{task_run_id}", "io.kestra.plugin.core.log.Log",
                      "company.team.hello", queue)


class Harness:
    def __init__(self, redis_url: str) -> None:
        self.app = make_celery(Settings(broker_url=redis_url))
        self.dispatcher = CeleryDispatcher(self.app)
        self.services = FakeServices(self.dispatcher)
        register_tasks(self.app, lambda: self.services)


@pytest.fixture
def harness(redis_url: str) -> Iterator[Harness]:
    h = Harness(redis_url)
    with WorkerThread(h.app, ["executor", "default", "gpu"], concurrency=4):
        yield h


def test_events_and_task_runs_arrive_once(harness: Harness) -> None:
    harness.dispatcher.dispatch_task_runs([ref(f"g{i}") for i in range(30)])
    for i in range(30):
        harness.dispatcher.send_event("exec1", {"i": i})
    runs = harness.services.wait_for("run", 30)
    events = harness.services.wait_for("event", 30)
    assert sorted(r.task_run_id for r in runs) == sorted(f"g{i}" for i in range(30))
    assert sorted(e["i"] for _, e in events) == list(range(30))


def test_chain_order_and_worker_group(harness: Harness) -> None:
    harness.dispatcher.dispatch_task_runs([ref("c0"), ref("c1", queue="gpu"), ref("c2")], chain=True)
    runs = harness.services.wait_for("run", 3)
    assert [(r.task_run_id, r.queue) for r in runs] == [("c0", DEFAULT_QUEUE), ("c1", "gpu"), ("c2", DEFAULT_QUEUE)]


def test_kill_reaches_a_running_task_run_by_broadcast(harness: Harness) -> None:
    started, release = threading.Event(), threading.Event()
    switch = kill_switch(harness.app)
    observed: list[bool] = []

    def block(r: TaskRunRef) -> None:
        if r.task_run_id == "long":
            started.set()
            # A cooperative runner polls the switch; the broadcast must flip it while we run.
            release.wait(20)
            observed.append(switch.is_killed("long", 1))

    harness.services.on_run = block
    harness.dispatcher.dispatch_task_runs([ref("long"), ref("next")], chain=True)
    assert started.wait(20)
    harness.dispatcher.kill_task_runs([ref("long")])
    assert _wait(lambda: switch.is_killed("long", 1))
    release.set()
    harness.dispatcher.dispatch_task_runs([ref("sentinel")])
    assert _wait(lambda: "sentinel" in [r.task_run_id for r in harness.services.of_kind("run")])
    harness.dispatcher.dispatch_task_runs([ref("sentinel2")])  # anything "next" would be done by now
    assert _wait(lambda: "sentinel2" in [r.task_run_id for r in harness.services.of_kind("run")])
    assert observed == [True]
    assert harness.services.of_kind("kill") == [["long"]]
    runs = [r.task_run_id for r in harness.services.of_kind("run")]
    assert "next" not in runs  # the killed link ended its chain


def test_revoke_uses_the_deterministic_task_id(harness: Harness) -> None:
    assert celery_task_id(ref("abc", attempt=2)) == "abc.2"


def _wait(condition: object, timeout: float = 20.0) -> bool:
    from tests.celery.procs import wait_until
    return wait_until(condition, timeout)  # type: ignore[arg-type]


@pytest.mark.slow
def test_celery_cli_inspect_ping_and_registered(redis_url: str, tmp_path: Path) -> None:
    env = env_for(redis_url, tmp_path / "data")
    worker = start_worker("worker.celery_app", env, tmp_path / "worker.log", queues="default", name="cli")
    try:
        ping = _celery(env, "inspect", "ping", "--timeout", "2")
        for _ in range(30):  # the worker needs a moment to boot; inspect just asks again
            if "pong" in ping.stdout:
                break
            ping = _celery(env, "inspect", "ping", "--timeout", "2")
        assert "pong" in ping.stdout, ping.stdout + ping.stderr
        registered = _celery(env, "inspect", "registered", "--timeout", "5")
        assert "podium.run_task_run" in registered.stdout and "podium.run_task_runs" in registered.stdout
        assert "podium.process_event" not in registered.stdout  # the executor's: executor.celery_app
        queues = _celery(env, "inspect", "active_queues", "--timeout", "5")
        assert "'default'" in queues.stdout or '"default"' in queues.stdout
    finally:
        assert stop(worker) == 0
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def _celery(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CELERY, "-A", "worker.celery_app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_queue_depth_counts_the_messages_waiting_in_a_queue(redis_url: str) -> None:
    # No worker consumes "backlog": beat reads its depth before re-sending an unclaimed attempt.
    dispatcher = CeleryDispatcher(make_celery(Settings(broker_url=redis_url)))
    assert dispatcher.queue_depth("backlog") == 0
    dispatcher.dispatch_task_runs([ref(f"r{i}", queue="backlog") for i in range(3)], spread=True)
    assert dispatcher.queue_depth("backlog") == 3  # three messages (few: spread, one each)
    assert CeleryDispatcher(make_celery(Settings(broker_url="redis://127.0.0.1:1/0"))).queue_depth("x") is None


def test_the_broker_incarnation_changes_when_redis_starts_again() -> None:
    # Beat compares it from round to round: a new one means the queued messages are gone.
    redis = RestartableRedis(start_redis())
    try:
        dispatcher = CeleryDispatcher(make_celery(Settings(broker_url=redis.url)))
        first = dispatcher.broker_incarnation()
        assert first and dispatcher.broker_incarnation() == first
        redis.restart(down_seconds=0.1)
        again = dispatcher.broker_incarnation()
        assert again and again != first
    finally:
        redis.server.stop()
    assert dispatcher.broker_incarnation() is None  # down: cannot say


def test_a_single_task_run_overtakes_a_waiting_fan_out(redis_url: str) -> None:
    # A 10,000-item ForEach must not make every other execution's task wait behind it.
    app = make_celery(Settings(broker_url=redis_url))
    dispatcher = CeleryDispatcher(app)
    services = FakeServices(dispatcher)
    register_tasks(app, lambda: services)
    items = [ref(f"item{i}", queue="fair") for i in range(BULK_SIZE)]
    dispatcher.dispatch_task_runs(items)
    dispatcher.dispatch_task_runs([ref("probe", queue="fair")])
    assert dispatcher.queue_depth("fair") == len(chunks(items, FIRST_CHUNKS)) + 1  # the fan-out goes out in chunks
    with WorkerThread(app, ["fair"], concurrency=1):
        runs = services.wait_for("run", BULK_SIZE + 1)
    assert runs[0].task_run_id == "probe"
    assert sorted(run.task_run_id for run in runs[1:]) == sorted(f"item{i}" for i in range(BULK_SIZE))


def test_a_fan_out_s_results_yield_to_other_events_at_the_executor(redis_url: str) -> None:
    app = make_celery(Settings(broker_url=redis_url))
    dispatcher = CeleryDispatcher(app)
    services = FakeServices(dispatcher)
    services.on_run = lambda run: dispatcher.send_event("fan-out", {"from": run.task_run_id})
    register_tasks(app, lambda: services)
    dispatcher.dispatch_task_runs([ref(f"item{i}", queue="wide") for i in range(BULK_SIZE)])
    with WorkerThread(app, ["wide"], concurrency=1):  # runs the items; nobody consumes the events yet
        services.wait_for("run", BULK_SIZE)
    dispatcher.send_event("other", {"from": "other"})
    with WorkerThread(app, ["executor"], concurrency=1):
        events = services.wait_for("event", BULK_SIZE + 1)
    assert events[0] == ("other", {"from": "other"})
    assert sorted(event["from"] for _, event in events[1:]) == sorted(f"item{i}" for i in range(BULK_SIZE))


def test_messages_show_their_ids_task_type_and_flow_not_their_payload(redis_url: str) -> None:
    # What `celery inspect active` and Flower print: Podium gives Celery the text (no saferepr).
    import json

    import redis

    dispatcher = CeleryDispatcher(make_celery(Settings(broker_url=redis_url)))
    dispatcher.dispatch_task_runs([ref("shown", queue="shown_runs")])
    client = redis.Redis.from_url(redis_url)
    [raw] = client.lrange("shown_runs", 0, -1)
    headers = json.loads(raw)["headers"]
    assert headers["argsrepr"] == "()"
    for shown in ("'task_run_id': 'shown'", "'task_type': 'io.kestra.plugin.core.log.Log'",
                  "'flow': 'company.team.hello'"):
        assert shown in headers["kwargsrepr"], headers["kwargsrepr"]
    dispatcher.send_event("e1", {"type": "TaskRunResult", "task_run_id": "shown", "attempt_number": 1,
                                 "state": "SUCCESS", "outputs": {"secret-ish": "x" * 5000}})
    [raw] = client.lrange("executor", 0, -1)[-1:]
    shown = json.loads(raw)["headers"]["kwargsrepr"]
    assert "'type': 'TaskRunResult'" in shown and "'state': 'SUCCESS'" in shown and "xxxxx" not in shown
    client.delete("shown_runs", "executor")


def test_a_chunk_message_shows_its_flow_and_each_task_run_it_carries(redis_url: str) -> None:
    import json

    import redis

    dispatcher = CeleryDispatcher(make_celery(Settings(broker_url=redis_url)))
    fan_out = [ref(f"item{i}", queue="shown_chunks") for i in range(40)]
    dispatcher.dispatch_task_runs(fan_out)
    client = redis.Redis.from_url(redis_url)
    raws = [raw for key in client.keys("shown_chunks*") for raw in client.lrange(key, 0, -1)]
    assert len(raws) == len(chunks(fan_out, FIRST_CHUNKS)) == 2
    headers = [json.loads(raw)["headers"] for raw in raws]
    assert {h["task"] for h in headers} == {"podium.run_task_runs"}
    shown = " ".join(h["kwargsrepr"] for h in headers)
    assert "'flow': 'company.team.hello'" in shown
    assert all(f"'item{i}'" in shown for i in range(40))
    client.delete(*client.keys("shown_chunks*"))


def test_publishes_share_one_redis_client_until_kombu_replaces_the_pool(redis_url: str) -> None:
    app = make_celery(Settings(broker_url=redis_url))
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, redis_transport.Channel)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second and first.ping()
        channel._disconnect_pools()  # what kombu does after a connection error
        with channel.conn_or_acquire() as third:
            assert third is not first and third.ping()
