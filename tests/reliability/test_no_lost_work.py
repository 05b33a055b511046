"""No lost work: real executor, worker and beat processes on real Redis and PostgreSQL.

"Exactly once" here (docs/reliability.md, *What the tests prove*):

- every task run exists once in its execution (one row per task run: no duplicate task run);
- its attempts are numbered 1..n without gaps, each attempt has exactly one terminal state;
- an attempt that was running on a worker killed with SIGKILL ends KILLED (with that worker's id)
  and counts as an attempt: the task run's next attempt runs on a live worker. So a task run hit
  by k kills has exactly k + 1 attempts, the last one SUCCESS, each of the others on a distinct
  killed worker;
- a failure that kills no worker (the executor, Redis) adds no attempt: each task run has exactly
  one attempt, and a Log task's message is in the logs exactly once (it ran once);
- nothing is left behind: no result waiting in the outbox, no live lease on an ended task run.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from engine.model.execution import Execution, TaskRun
from engine.persistence.executions import SLOT_STATES
from engine.persistence.leases import LeaseRepository
from engine.persistence.pending_commands import PendingCommandRepository
from engine.state import State
from tests.reliability.conftest import Cluster, RestartableRedis, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NS = "tests.reliability"


def _deploy(cluster: Cluster, source: str) -> None:
    cluster.services.deploy_source(source)


def _start(cluster: Cluster, flow_id: str, count: int, threads: int = 1) -> list[str]:
    def one(_: int) -> str:
        return cluster.services.start_execution(NS, flow_id).id

    if threads == 1:
        return [one(i) for i in range(count)]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def _wait_all_ended(cluster: Cluster, ids: list[str], timeout: float) -> list[Execution]:
    try:
        wait_until(lambda: cluster.ended(ids) == len(ids), timeout, step=0.25,
                   what=f"{len(ids)} executions to end")
    except BaseException:
        print(cluster.logs_tail())
        raise
    return cluster.executions(ids)


def _terminal_states(attempt_histories: list[State]) -> list[State]:
    return [state for state in attempt_histories if state.is_terminated]


def _assert_attempts_recorded_once(run: TaskRun) -> None:
    for attempt in run.attempts:
        ends = _terminal_states([h.state for h in attempt.state.histories])
        assert len(ends) == 1, f"{run.describe()}: attempt ended {ends}"


def _assert_nothing_left(cluster: Cluster, executions: list[Execution]) -> None:
    leases = LeaseRepository(cluster.services.env.db)
    assert leases.pending_results() == 0
    for execution in executions:
        for run in execution.task_run_list:
            lease = leases.lease(run.id)
            assert lease is not None and lease[0] == len(run.attempts) and lease[2] is None


def _one_attempt_each(cluster: Cluster, executions: list[Execution], task_ids: list[str]) -> None:
    """Each execution SUCCESS, its task runs once each with one SUCCESS attempt, logs once."""
    for execution in executions:
        assert execution.state.current == State.SUCCESS, execution.describe()
        assert [run.task_id for run in execution.task_run_list] == task_ids
        for run in execution.task_run_list:
            assert run.state.current == State.SUCCESS
            assert [a.state.current for a in run.attempts] == [State.SUCCESS], run.describe()
            _assert_attempts_recorded_once(run)
        messages = [log["message"] for log in cluster.services.logs(execution.id) if log.get("taskId") == "log"]
        assert messages == [f"ran {execution.id}"]
    _assert_nothing_left(cluster, executions)


# ------------------------------------------------------------------ 1. a worker killed, three times

LONG_SLEEP = f"""
id: long_sleep
namespace: {NS}
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT4S
"""


def test_a_worker_killed_in_a_long_task_three_times(cluster: Cluster) -> None:
    _deploy(cluster, LONG_SLEEP)
    cluster.executor()
    cluster.beat()
    worker = cluster.worker(concurrency=2)
    ids = _start(cluster, "long_sleep", 2)
    killed: list[str] = []
    for round_ in range(3):
        worker_id = Cluster.worker_id(worker)

        def both_running_here(round_: int = round_, worker_id: str = worker_id) -> bool:
            runs = [run for e in cluster.executions(ids) for run in e.task_run_list]
            return len(runs) == 2 and all(
                len(run.attempts) == round_ + 1 and run.attempts[-1].state.current == State.RUNNING
                and run.attempts[-1].worker_id == worker_id for run in runs)

        wait_until(both_running_here, 90, what=f"both sleeps running on worker {round_ + 1}")
        Cluster.kill9(worker)  # in the middle of a 4 s sleep
        killed.append(worker_id)
        worker = cluster.worker(concurrency=2)  # a fresh worker; the reaper resubmits the attempts

    executions = _wait_all_ended(cluster, ids, 120)
    survivor = Cluster.worker_id(worker)
    for execution in executions:
        assert execution.state.current == State.SUCCESS
        (run,) = execution.task_run_list  # still one task run
        _assert_attempts_recorded_once(run)
        assert [a.state.current for a in run.attempts] == [State.KILLED] * 3 + [State.SUCCESS]
        assert [a.worker_id for a in run.attempts] == [*killed, survivor]
        warnings = [log["message"] for log in cluster.services.logs(execution.id) if log["level"] == "WARN"]
        assert [w for w in warnings if "resubmitted as attempt" in w] == [
            f"attempt {n} of {run.describe()} was lost (worker {killed[n - 1]} stopped renewing its lease); "
            f"resubmitted as attempt {n + 1}" for n in (1, 2, 3)]
    _assert_nothing_left(cluster, executions)


# ------------------------------------------------------------------ 2. the executor killed

THREE_STEPS = f"""
id: three_steps
namespace: {NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "ran {{{{ execution.id }}}}"
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
  - id: value
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
"""


def test_the_executor_killed_among_100_running_executions(cluster: Cluster) -> None:
    _deploy(cluster, THREE_STEPS)
    executor = cluster.executor()
    cluster.beat()
    cluster.worker(concurrency=16)
    ids = _start(cluster, "three_steps", 100)
    # 100 x 5 s of sleep on 16 slots is over 30 s of work: the kill lands in the middle even when
    # starting the executions is slow on a loaded machine.
    wait_until(lambda: cluster.ended(ids) >= 5, 120, what="5 executions to end")
    assert cluster.ended(ids) < 100, "all ended before the kill; the test proves nothing"
    Cluster.kill9(executor)  # with events in flight and dispatches maybe unsent
    time.sleep(1.0)  # workers keep reporting into the executor queue meanwhile
    cluster.executor()

    executions = _wait_all_ended(cluster, ids, 180)
    _one_attempt_each(cluster, executions, ["log", "sleep", "value"])
    for execution in executions:
        assert execution.task_run_list[-1].outputs == {"value": execution.id}


# ------------------------------------------------------------------ 3. Redis restarted

def test_redis_restarted_without_persistence_in_the_middle_of_a_run(cluster: Cluster,
                                                                    own_redis: RestartableRedis) -> None:
    cluster.broker_url = own_redis.url
    _deploy(cluster, THREE_STEPS)
    cluster.executor()
    cluster.beat()
    cluster.worker(concurrency=16)
    ids = _start(cluster, "three_steps", 40)

    def sleeping() -> int:
        return sum(1 for e in cluster.executions(ids) for run in e.task_run_list
                   if run.task_id == "sleep" and not run.state.current.is_terminated)

    wait_until(lambda: sleeping() >= 5, 120, what="sleeps to be in flight")
    assert cluster.ended(ids) < 40, "all ended before the restart; the test proves nothing"
    own_redis.restart(down_seconds=1.0)  # queued task runs, events and Start messages are gone

    executions = _wait_all_ended(cluster, ids, 180)
    _one_attempt_each(cluster, executions, ["log", "sleep", "value"])


# ------------------------------------------------------------------ 4. concurrency limit under load

LIMITED = f"""
id: limited
namespace: {NS}
concurrency:
  limit: 2
  behavior: QUEUE
tasks:
  - id: value
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
"""

COUNT = 1000


def test_1000_executions_never_run_more_than_the_concurrency_limit(cluster: Cluster) -> None:
    _deploy(cluster, LIMITED)
    cluster.executor(concurrency=4)  # several executor threads: releases race with admissions
    cluster.beat()
    cluster.worker(concurrency=4)
    repository = cluster.services.env.executions
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(repository.running_count(NS, "limited", states=SLOT_STATES | {State.CREATED}))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        ids = _start(cluster, "limited", COUNT, threads=8)  # concurrent admissions
        executions = _wait_all_ended(cluster, ids, 240)
    finally:
        stop.set()
        sampler.join()

    assert len(executions) == COUNT
    assert all(e.state.current == State.SUCCESS for e in executions)
    assert all(len(e.task_run_list) == 1 and len(e.task_run_list[0].attempts) == 1 for e in executions)
    assert samples and max(samples) <= 2, f"sampled {max(samples)} executions holding slots"
    assert 2 in samples  # the limit was reached: the test exercised it
    # Afterwards, from the state histories: never more than 2 RUNNING at once (half-open intervals).
    edges: list[tuple[datetime, int]] = []
    for execution in executions:
        running = [h.date for h in execution.state.histories if h.state == State.RUNNING]
        assert len(running) == 1 and execution.state.end_date is not None
        edges += [(running[0], 1), (execution.state.end_date, -1)]
    at_once = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends before starts at equal times
        at_once += step
        peak = max(peak, at_once)
    assert peak <= 2, f"{peak} executions were RUNNING at once"
    assert cluster.services.env.queue.count(NS, "limited") == 0


# ------------------------------------------------------------------ 5. messages between executions

ITEM_CHILD = f"""
id: item_child
namespace: {NS}
inputs:
  - id: items
    type: STRING
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ read(inputs.items) | trim }}}}"
outputs:
  - id: line
    type: STRING
    value: "{{{{ outputs.read.value }}}}"
"""

FOR_EACH_ITEM = f"""
id: for_each_item
namespace: {NS}
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch:
      rows: 1
    namespace: {NS}
    flowId: item_child
    inputs:
      items: "{{{{ taskrun.items }}}}"
"""

ITEMS = 8


def test_the_executor_killed_then_redis_restarted_among_for_each_item_children(
        cluster: Cluster, own_redis: RestartableRedis, tmp_path: Path) -> None:
    # Children's starts and ends, splits and merges travel between executions as executor events
    # and after-commit work: the kill loses the executor's prefetched replies and what it had not
    # carried out yet, the restart the replies queued in Redis. Pending commands bring them back.
    cluster.broker_url = own_redis.url
    _deploy(cluster, ITEM_CHILD)
    _deploy(cluster, FOR_EACH_ITEM)
    executor = cluster.executor()
    cluster.beat()
    cluster.worker(concurrency=16)
    source = tmp_path / "items.txt"
    source.write_text("".join(f"line {n}\n" for n in range(ITEMS)))
    ids = [cluster.services.start_execution(NS, "for_each_item", inputs={"file": str(source)}, local_files=True).id
           for _ in range(10)]
    children = cluster.services.env.executions.children

    def children_ended() -> int:
        return sum(1 for parent in ids for child in children(parent) if child.state.current.is_terminated)

    # 80 children x 2 s on 16 slots: at least 10 s of work, so both hits land in the middle.
    wait_until(lambda: children_ended() >= 10, 120, what="10 children to end")
    assert cluster.ended(ids) < len(ids), "all ended before the kill; the test proves nothing"
    Cluster.kill9(executor)
    time.sleep(1.0)
    cluster.executor()
    own_redis.restart(down_seconds=1.0)

    for parent in _wait_all_ended(cluster, ids, 240):
        assert parent.state.current == State.SUCCESS, parent.describe()
        each = next(run for run in parent.task_run_list if run.task_id == "each_items")
        assert each.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": ITEMS}
        started = children(parent.id)
        assert sorted(child.trigger.variables["iteration"] for child in started  # type: ignore[union-attr]
                      ) == list(range(ITEMS)), "one child per batch, none twice"
        assert {child.state.current for child in started} == {State.SUCCESS}
        merge = next(run for run in parent.task_run_list if run.task_id == "each_merge")
        merged = cluster.services.env.storage.get(merge.outputs["subflowOutputs"]).decode().splitlines()
        assert sorted(json.loads(line)["line"] for line in merged) == [f"line {n}" for n in range(ITEMS)]
    pending = PendingCommandRepository(cluster.services.env.db)
    wait_until(lambda: pending.list() == [], 30, what="no pending command left")
