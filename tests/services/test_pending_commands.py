"""Pending commands: what an executor step asks of the outside is done even if the executor dies
after the step's commit, or the broker loses the reply (docs/reliability.md, "Pending commands").

Real services on SQLite and PostgreSQL, inline dispatch, a fake clock; the lease is 30 s, so a
command is run again 60 s after its step. "The executor died after the commit" is played by a
command handler that does nothing; "the broker lost the reply" by an inline broker that drops
one kind of executor event.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.executor import events as ev
from engine.persistence.pending_commands import PendingCommandRepository
from engine.services.commands import CommandRunner
from engine.services.flow_triggers import FlowTriggerService
from engine.state import State
from tests.services.conftest import Engine, one_run

CHILD = """
id: child
namespace: tests.pending
tasks:
  - id: work
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) | trim }}"
inputs:
  - id: items
    type: STRING
    defaults: ""
outputs:
  - id: lines
    type: STRING
    value: "{{ outputs.work.value }}"
"""

PLAIN_CHILD = """
id: plain_child
namespace: tests.pending
tasks:
  - id: work
    type: io.kestra.plugin.core.log.Log
    message: work
"""

PARENT = """
id: parent
namespace: tests.pending
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.pending
    flowId: plain_child
"""

FOR_EACH = """
id: for_each
namespace: tests.pending
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 2
    namespace: tests.pending
    flowId: child
    inputs:
      items: "{{ taskrun.items }}"
"""

LISTENER = """
id: listener
namespace: tests.pending
tasks:
  - id: heard
    type: io.kestra.plugin.core.log.Log
    message: heard
triggers:
  - id: on_plain
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.pending
        flowId: plain_child
"""

RETRIED = """
id: retried
namespace: tests.pending
tasks:
  - id: fails
    type: io.kestra.plugin.core.execution.Fail
    retry: {type: constant, interval: PT1S, maxAttempt: 2, behavior: CREATE_NEW_EXECUTION}
"""


def _reap(engine: Engine, **delta: float) -> int:
    engine.clock.advance(**delta)
    sent = engine.services.reap_expired_leases(engine.clock())
    engine.drain()
    return sent


def _pending(engine: Engine) -> list[str]:
    return [command.id.split(":", 1)[0] for command in PendingCommandRepository(engine.services.env.db).list()]


@contextmanager
def _executor_dies_before(monkeypatch: pytest.MonkeyPatch, command: str) -> Iterator[None]:
    """Commands of type ``command`` are not carried out meanwhile: the executor died between the
    commit of the step that asked for one and carrying it out."""
    carry_out = CommandRunner.after_commit

    def after_commit(self: CommandRunner, execution: Any, flow: Any, commands: Any) -> None:
        carry_out(self, execution, flow, [c for c in commands if type(c).__name__ != command])
    with monkeypatch.context() as patched:
        patched.setattr(CommandRunner, "after_commit", after_commit)
        yield


@contextmanager
def _losing(engine: Engine, kind: str) -> Iterator[list[dict[str, Any]]]:
    """The inline broker loses every executor event of type ``kind`` meanwhile."""
    lost: list[dict[str, Any]] = []
    sent = engine.dispatcher.send_event

    def send(execution_id: str, event: dict[str, Any]) -> None:
        (lost.append(event) if event["type"] == kind else sent(execution_id, event))
    engine.dispatcher.send_event = send  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        engine.dispatcher.send_event = sent  # type: ignore[method-assign]


@pytest.fixture
def items(tmp_path: Path) -> dict[str, str]:
    source = tmp_path / "items.txt"
    source.write_text("a\nb\nc\nd\ne\n")
    return {"file": str(source)}


def test_a_subflow_whose_creation_died_with_the_executor_is_created_by_beat(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy(PLAIN_CHILD)
    with _executor_dies_before(monkeypatch, "StartSubflow"):
        parent = engine.run(PARENT)
    assert parent.state.current == State.RUNNING and not engine.services.env.executions.children(parent.id)
    assert _pending(engine) == ["subflow"]
    assert _reap(engine, seconds=59) == 0  # it may only be slow
    assert _reap(engine, seconds=2) == 1
    [child] = engine.services.env.executions.children(parent.id)
    parent = engine.get(parent.id)
    assert parent.state.current == State.SUCCESS and one_run(parent, "sub").outputs["executionId"] == child.id
    assert _pending(engine) == []


def test_a_subflow_command_run_twice_creates_one_child(engine: Engine) -> None:
    engine.deploy(PLAIN_CHILD)
    with _losing(engine, "SubflowStarted"), _losing(engine, "SubflowEnded"):  # the child ran; both lost
        parent = engine.run(PARENT)
    [child] = engine.services.env.executions.children(parent.id)
    assert child.state.current == State.SUCCESS and engine.get(parent.id).state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 2  # the start again (the same child), and its end
    assert [c.id for c in engine.services.env.executions.children(parent.id)] == [child.id]
    assert engine.get(parent.id).state.current == State.SUCCESS
    assert _pending(engine) == [] and _reap(engine, seconds=600) == 0


def test_a_subflow_end_applies_the_start_it_overtook(engine: Engine, items: dict[str, str]) -> None:
    engine.deploy(CHILD)
    with _losing(engine, "SubflowStarted") as starts:
        parent = engine.run(FOR_EACH, inputs=items, local_files=True)
    parent = engine.get(parent.id)
    assert parent.state.current == State.SUCCESS and _pending(engine) == []
    assert one_run(parent, "each_items").outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}
    for event in starts:  # late, after the ends: repeated, not counted again
        engine.dispatcher.send_event(parent.id, event)
    engine.drain()
    assert one_run(engine.get(parent.id), "each_items").outputs["iterations"]["SUCCESS"] == 3


def test_a_lost_for_each_item_end_is_counted_once(engine: Engine, items: dict[str, str]) -> None:
    engine.deploy(CHILD)
    with _losing(engine, "SubflowEnded") as lost:
        parent = engine.run(FOR_EACH, inputs=items, local_files=True)
    assert len(lost) == 3 and parent.state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 3
    parent = engine.get(parent.id)
    each = one_run(parent, "each_items")
    assert parent.state.current == State.SUCCESS
    assert each.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}
    assert _pending(engine) == []


def test_a_for_each_item_reply_delivered_twice_is_applied_once(engine: Engine, items: dict[str, str]) -> None:
    engine.deploy(CHILD)
    with _losing(engine, "SubflowEnded") as ends, _losing(engine, "SubflowStarted") as starts:
        parent = engine.run(FOR_EACH, inputs=items, local_files=True)
    for event in [*starts, *starts, *ends[:1], *ends]:  # each start twice, the first end twice
        engine.dispatcher.send_event(parent.id, event)
    engine.drain()
    parent = engine.get(parent.id)
    assert parent.state.current == State.SUCCESS
    assert one_run(parent, "each_items").outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}


def test_a_split_and_a_merge_that_died_with_the_executor_are_done_by_beat(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, items: dict[str, str]) -> None:
    engine.deploy(CHILD)
    with _executor_dies_before(monkeypatch, "SplitItems"):
        parent = engine.run(FOR_EACH, inputs=items, local_files=True)
    assert _pending(engine) == ["split"] and parent.state.current == State.RUNNING
    with _executor_dies_before(monkeypatch, "MergeItemsOutputs"):
        assert _reap(engine, seconds=61) == 1
    assert len(engine.services.env.executions.children(parent.id)) == 3
    assert _pending(engine) == ["merge"] and engine.get(parent.id).state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 1
    parent = engine.get(parent.id)
    assert parent.state.current == State.SUCCESS and one_run(parent, "each_merge").outputs["subflowOutputs"]
    assert _pending(engine) == []


def test_flow_triggers_of_an_end_that_died_with_the_executor_start_once(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy(LISTENER)
    with _executor_dies_before(monkeypatch, "ExecutionEnded"):
        upstream = engine.run(PLAIN_CHILD)
    listener = engine.services.env.executions.list(flow_id="listener").items
    assert upstream.state.current == State.SUCCESS and listener == [] and _pending(engine) == ["ended"]
    assert _reap(engine, seconds=61) == 1
    assert _reap(engine, seconds=600) == 0
    [started] = engine.services.env.executions.list(flow_id="listener").items
    assert started.trigger is not None and started.trigger.variables["executionId"] == upstream.id
    assert _pending(engine) == []


class _Died(BaseException):
    """The executor process dying at that very line."""


def test_a_flow_trigger_fire_whose_start_died_with_the_executor_starts_once(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy(LISTENER)
    engine.deploy(PLAIN_CHILD)
    with monkeypatch.context() as patched:  # dies after the claim, before the start
        patched.setattr(FlowTriggerService, "_start", lambda *args: (_ for _ in ()).throw(_Died()))
        upstream = engine.services.start_execution("tests.pending", "plain_child")
        with pytest.raises(_Died):
            engine.drain()
    engine.drain()
    assert engine.get(upstream.id).state.current == State.SUCCESS
    assert engine.services.env.executions.list(flow_id="listener").items == []
    assert _pending(engine) == ["ended"]
    assert _reap(engine, seconds=61) == 1  # evaluated again: claimed already, but not started
    [started] = engine.services.env.executions.list(flow_id="listener").items
    assert started.state.current == State.SUCCESS and _pending(engine) == []
    engine.services.executions.flow_triggers.on_state(engine.get(upstream.id))  # once more: nothing
    engine.drain()
    assert len(engine.services.env.executions.list(flow_id="listener").items) == 1


def test_an_end_nobody_listens_to_leaves_no_pending_command(engine: Engine) -> None:
    engine.deploy(LISTENER)  # listens to plain_child only
    engine.run(PLAIN_CHILD)  # reads the Flow triggers, after which the index is known
    assert _pending(engine) == []
    assert engine.run(PLAIN_CHILD.replace("id: plain_child", "id: other")).state.current == State.SUCCESS
    assert _pending(engine) == []


def test_a_retry_in_a_new_execution_that_died_with_the_executor_is_created_once(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with _executor_dies_before(monkeypatch, "RetryExecution"):
        first = engine.run(RETRIED)
    assert first.state.current == State.RETRIED and _pending(engine) == ["retry"]
    assert _reap(engine, seconds=61) == 1
    replays = [e for e in engine.services.env.executions.list(flow_id="retried").items if e.id != first.id]
    assert len(replays) == 1 and replays[0].parent_id == first.id
    assert _pending(engine) == []


def test_a_retry_in_a_new_execution_stops_at_max_attempt(engine: Engine) -> None:
    first = engine.run(RETRIED)
    runs = sorted(engine.services.env.executions.list(flow_id="retried").items,
                  key=lambda e: e.metadata.attempt_number)
    assert [(e.state.current, e.metadata.attempt_number) for e in runs] == [(State.RETRIED, 1), (State.FAILED, 2)]
    assert runs[0].id == first.id and runs[1].metadata.original_created_date == first.state.start_date


def test_a_pending_command_of_an_execution_that_moved_on_is_dropped(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy(PLAIN_CHILD)
    with _executor_dies_before(monkeypatch, "StartSubflow"):
        parent = engine.run(PARENT)
    engine.services.kill(parent.id)
    engine.drain()
    assert engine.get(parent.id).state.current == State.KILLED
    assert _reap(engine, seconds=61) == 0  # nobody waits for that child any more
    assert not engine.services.env.executions.children(parent.id) and _pending(engine) == []


def test_the_executor_keeps_its_pending_commands_while_it_still_carries_them_out(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy(PLAIN_CHILD)
    with _executor_dies_before(monkeypatch, "StartSubflow"):  # still busy with it, as far as beat sees
        parent = engine.run(PARENT)
    repository = PendingCommandRepository(engine.services.env.db)
    [before] = repository.list()
    engine.clock.advance(seconds=50)
    engine.services.executions.pending.keep_alive(parent.id)
    [after] = repository.list()
    assert (after.replay_at - before.replay_at).total_seconds() == 50
    assert _reap(engine, seconds=11) == 0  # 61 s after the step, but kept alive 50 s in


def test_a_reply_without_a_pending_command_still_applies_outside_for_each_item(engine: Engine) -> None:
    # Replies sent before the commands were kept (an upgrade) still reach a plain Subflow.
    engine.deploy(PLAIN_CHILD)
    with _losing(engine, "SubflowEnded") as ends:
        parent = engine.run(PARENT)
    PendingCommandRepository(engine.services.env.db).drop([c.id for c in PendingCommandRepository(
        engine.services.env.db).list()])
    engine.dispatcher.send_event(parent.id, ends[0])
    engine.drain()
    assert engine.get(parent.id).state.current == State.SUCCESS



PAUSED = """
id: paused
namespace: tests.pending
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.reason }}"
"""

PAUSED_PARENT = """
id: paused_parent
namespace: tests.pending
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.pending
    flowId: paused
"""


def test_a_lost_resume_is_sent_again_with_its_inputs(engine: Engine) -> None:
    execution = engine.run(PAUSED)
    with _losing(engine, "Resume") as lost:
        engine.services.resume(execution.id, {"reason": "approved"})
        engine.drain()
    assert len(lost) == 1 and engine.get(execution.id).state.current == State.PAUSED
    assert _pending(engine) == ["event"]
    assert _reap(engine, seconds=61) == 1
    execution = engine.get(execution.id)
    assert execution.state.current == State.SUCCESS
    assert one_run(execution, "wait").outputs["onResume"] == {"reason": "approved"}
    assert _pending(engine) == [] and _reap(engine, seconds=600) == 0


def test_a_lost_kill_is_sent_again_to_the_execution_and_to_its_children(engine: Engine) -> None:
    engine.deploy(PAUSED)
    parent = engine.run(PAUSED_PARENT)
    [child] = engine.services.env.executions.children(parent.id)
    assert child.state.current == State.PAUSED
    with _losing(engine, "Kill") as lost:
        engine.services.kill(parent.id)
        engine.drain()
    assert len(lost) == 2 and engine.get(parent.id).state.current == State.RUNNING
    assert _reap(engine, seconds=61) == 2  # the parent's Kill and its child's
    assert engine.get(child.id).state.current == State.KILLED
    assert engine.get(parent.id).state.current == State.KILLED
    assert _pending(engine) == []


def test_the_kill_a_killed_parent_sends_its_child_is_kept_until_applied(engine: Engine) -> None:
    engine.deploy(PAUSED)
    parent = engine.run(PAUSED_PARENT)
    [child] = engine.services.env.executions.children(parent.id)
    engine.services.executions.pending.send_kept(parent.id, ev.Kill())  # the parent alone
    with _losing(engine, "Kill") as lost:  # its step's Kill to the child is lost
        engine.drain()
    # The parent does not wait for its child's end; without the kept Kill the child stays paused.
    assert lost and engine.get(parent.id).state.current == State.KILLED
    assert engine.get(child.id).state.current == State.PAUSED and _pending(engine) == ["event"]
    assert _reap(engine, seconds=61) == 1
    assert engine.get(child.id).state.current == State.KILLED and _pending(engine) == []
