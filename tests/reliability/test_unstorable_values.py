"""A value PostgreSQL cannot store as it is, on real executor, worker and beat processes over
Redis and PostgreSQL: a Log task logging "a\\0b" and a Return task whose output carries a NUL end
SUCCESS, once, with the NUL stored as U+FFFD (engine/persistence/types.py). Without that, the
worker's result write failed, the attempt was resubmitted when its lease lapsed, and so on forever:
the deadline here is what catches such a loop."""
from __future__ import annotations

import pytest

from engine.state import State
from tests.reliability.conftest import Cluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FLOW = r"""
id: nul
namespace: tests.reliability
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "a\0b"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "x\0y"
outputs:
  - id: out
    type: STRING
    value: "{{ outputs.ret.value }}"
"""


def test_nul_bytes_end_the_execution_once_on_redis_and_postgresql(cluster: Cluster) -> None:
    cluster.services.deploy_source(FLOW)
    cluster.executor()
    cluster.worker(concurrency=2)
    cluster.beat()
    execution_id = cluster.services.start_execution("tests.reliability", "nul").id
    try:
        wait_until(lambda: cluster.ended([execution_id]) == 1, 120, step=0.25, what="the execution to end")
    except BaseException:
        print(cluster.logs_tail())
        raise
    [execution] = cluster.executions([execution_id])
    attempts = {run.task_id: [attempt.state.current.value for attempt in run.attempts]
                for run in execution.task_run_list}
    assert execution.state.current == State.SUCCESS, attempts
    for run in execution.task_run_list:
        assert [attempt.state.current for attempt in run.attempts] == [State.SUCCESS], run.describe()
    messages = [log["message"] for log in cluster.services.logs(execution_id) if log.get("taskId") == "log"]
    assert messages == ["a\ufffdb"]
    assert execution.outputs == {"out": "x\ufffdy"}
    assert cluster.services.env.leases.pending_results() == 0
