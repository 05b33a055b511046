"""Batches with real processes (worker/batches.py): a worker killed -9 while it runs
chunks of a fan-out loses no attempt, records none twice and runs each join once; a kill reaches
an attempt a prefork child runs as a later link of its chain (messaging/kills.py)."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.persistence.tables import task_run_results, task_runs
from engine.state import State
from tests.reliability.conftest import Cluster, wait_until
from tests.reliability.test_no_lost_work import (
    NS,
    _assert_attempts_recorded_once,
    _assert_nothing_left,
    _deploy,
    _start,
    _wait_all_ended,
)

WIDE = f"""
id: wide
namespace: {NS}
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
""" + "".join(f"""      - id: p{i}
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.id }}}}"
""" for i in range(120)) + """  - id: join
    type: io.kestra.plugin.core.debug.Return
    format: joined
"""

CHAIN_WITH_A_SLEEP = f"""
id: chain_with_a_sleep
namespace: {NS}
tasks:
  - {{id: first, type: io.kestra.plugin.core.debug.Return, format: one}}
  - {{id: slow, type: io.kestra.plugin.core.flow.Sleep, duration: PT120S}}
  - {{id: last, type: io.kestra.plugin.core.debug.Return, format: three}}
"""


def test_a_worker_killed_among_chunks_of_a_fan_out(cluster: Cluster) -> None:
    _deploy(cluster, WIDE)
    cluster.executor()
    cluster.beat()
    # Started before the worker, and sixteen of them: the kill must land while chunks still run,
    # even when the first poll below comes late on a loaded machine.
    ids = _start(cluster, "wide", 16)
    worker = cluster.worker(concurrency=4)
    ended_states = [state.value for state in State if state.is_terminated]

    def items_done() -> int:
        """Items whose result a worker wrote: applied by the executor, or waiting in the outbox
        (one cheap count each: loading 16 executions per poll let the fan-outs finish unseen)."""
        with cluster.services.env.db.engine.connect() as connection:
            applied = connection.execute(select(func.count()).select_from(task_runs).where(
                task_runs.c.execution_id.in_(ids), task_runs.c.task_id.like("p%"),
                task_runs.c.state.in_(ended_states))).scalar_one()
            waiting = connection.execute(select(func.count()).select_from(task_run_results).where(
                task_run_results.c.execution_id.in_(ids))).scalar_one()
        return int(applied) + int(waiting)

    wait_until(lambda: items_done() >= 50, 120, step=0.02, what="50 items to end")
    assert items_done() < 16 * 120, "all items ended before the kill; the test proves nothing"
    Cluster.kill9(worker)  # with chunks claimed, results held, messages unacknowledged
    cluster.worker(concurrency=4)

    executions = _wait_all_ended(cluster, ids, 180)
    for execution in executions:
        assert execution.state.current == State.SUCCESS, execution.describe()
        items = [run for run in execution.task_run_list if run.task_id.startswith("p")]
        assert len(items) == 120 and len({run.task_id for run in items}) == 120
        for run in items:
            assert run.state.current == State.SUCCESS and run.outputs == {"value": run.id}
            assert run.attempts[-1].state.current == State.SUCCESS
            _assert_attempts_recorded_once(run)
        # The join (engine/executor/joins.py): once, whether the worker that ended the fan-out ran
        # it, the executor sent it, or a killed worker's claim lapsed and it ran again.
        (join,) = [run for run in execution.task_run_list if run.task_id == "join"]
        assert join.state.current == State.SUCCESS and join.outputs == {"value": "joined"}
        assert join.attempts[-1].state.current == State.SUCCESS
        _assert_attempts_recorded_once(join)
    _assert_nothing_left(cluster, executions)


def test_a_kill_stops_a_later_link_a_prefork_child_runs(cluster: Cluster) -> None:
    _deploy(cluster, CHAIN_WITH_A_SLEEP)
    cluster.executor()
    cluster.beat()
    cluster.worker(concurrency=2, pool="prefork")
    (execution_id,) = _start(cluster, "chain_with_a_sleep", 1)

    def sleeping() -> bool:
        runs = {run.task_id: run for run in cluster.services.get_execution(execution_id).task_run_list}
        return "slow" in runs and runs["slow"].state.current == State.RUNNING

    wait_until(sleeping, 60, what="the sleep to run")
    cluster.services.kill(execution_id)
    # Far less than the sleep: the child running it was stopped, not waited for.
    wait_until(lambda: cluster.services.get_execution(execution_id).state.current == State.KILLED, 60,
               what="the execution to end KILLED")
    execution = cluster.services.get_execution(execution_id)
    assert {run.task_id: run.state.current for run in execution.task_run_list} == {
        "first": State.SUCCESS, "slow": State.KILLED}
