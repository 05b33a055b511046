"""Results PostgreSQL cannot store as they are, on the inline runtime over both databases.

A NUL in a log line, an output, a label or a flow output is stored as U+FFFD on both databases
(engine/persistence/types.py): the execution ends SUCCESS with one attempt per task, the same on
both. A result the database refuses for another reason ends its task run FAILED, once, with the
reason in its logs (worker/lease_keeper.py), where it used to fail every write and be retried.
"""
from __future__ import annotations

from engine.executor import events as ev
from engine.model.task import LogLevel
from engine.persistence.logs import LogEntry
from engine.state import State
from tests.services.conftest import Engine, one_run

NUL_FLOW = r"""
id: nul
namespace: tests.nul
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "a\0b"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "x\0y"
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      "k\0": "v\0"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ outputs.ret.value != 'x\uFFFDy' }}"
    errorMessage: "the output was not stored as x\uFFFDy"
outputs:
  - id: out
    type: STRING
    value: "{{ outputs.ret.value }}\0"
"""

HELD = """
id: held
namespace: tests.nul
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "x"
"""


def test_nul_bytes_are_stored_as_replacement_characters_on_both_databases(engine: Engine) -> None:
    execution = engine.run(NUL_FLOW)
    assert execution.state.current == State.SUCCESS
    assert all(len(run.attempts) <= 1 for run in execution.task_run_list)
    assert engine.messages(execution.id, "log") == ["a\ufffdb"]
    assert one_run(execution, "ret").outputs == {"value": "x\ufffdy"}
    assert execution.label_map["k\ufffd"] == "v\ufffd"
    assert execution.outputs == {"out": "x\ufffdy\ufffd"}
    assert [e.id for e in engine.services.env.executions.list(labels={"k\x00": "v\x00"}).items] == [execution.id]


def test_a_result_the_database_refuses_fails_its_task_run_once_with_the_reason(engine: Engine) -> None:
    holding = engine.hold("ret")
    flow = engine.deploy(HELD)
    execution_id = engine.start(flow.namespace, flow.id).id
    [ref] = holding.held
    keeper = engine.worker.task_runs.leases
    # What a task's runner would never let through, and a database refuses whatever it is: an
    # output that is not JSON (too big for PostgreSQL's JSONB is refused the same way).
    refused = ev.TaskRunResult(ref.task_run_id, ref.attempt, State.SUCCESS, {"value": object()}, worker_id="w")
    reported = keeper.report_many(execution_id, [(refused, (), engine.clock())])
    assert reported.event["state"] == "FAILED" and reported.event["outputs"] == {}
    engine.drain()
    execution = engine.get(execution_id)
    assert execution.state.current == State.FAILED
    run = one_run(execution, "ret")
    assert [attempt.state.current for attempt in run.attempts] == [State.FAILED]
    assert run.outputs == {}
    assert engine.messages(execution_id, "ret") == [
        "The result of this attempt cannot be stored (TypeError: Object of type object is not JSON "
        "serializable): the attempt is FAILED, without outputs"]
    assert engine.services.env.leases.pending_results() == 0


def test_log_lines_the_database_refuses_are_dropped_with_the_result_s_outputs(engine: Engine) -> None:
    holding = engine.hold("ret")
    flow = engine.deploy(HELD)
    execution_id = engine.start(flow.namespace, flow.id).id
    [ref] = holding.held
    naive = engine.clock().replace(tzinfo=None)  # refused by the timestamp column, on both databases
    line = LogEntry(namespace="tests.nul", flow_id="held", execution_id=execution_id, task_run_id=ref.task_run_id,
                    task_id="ret", attempt_number=1, level=LogLevel.INFO, timestamp=naive, message="hello")
    result = ev.TaskRunResult(ref.task_run_id, ref.attempt, State.SUCCESS, {"value": "x"}, worker_id="w")
    engine.worker.task_runs.leases.report_many(execution_id, [(result, [line], engine.clock())])
    engine.drain()
    execution = engine.get(execution_id)
    assert [attempt.state.current for attempt in one_run(execution, "ret").attempts] == [State.FAILED]
    [message] = engine.messages(execution_id, "ret")
    assert message.startswith("The result of this attempt cannot be stored (ValueError: naive datetime")
