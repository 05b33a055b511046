"""Subflow and ForEachItem: child executions started, waited for and mapped back."""
from __future__ import annotations

from pathlib import Path

from engine.state import State
from tests.services.conftest import Engine, one_run, states

CHILD = """
id: child
namespace: tests.sub
inputs:
  - id: name
    type: STRING
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"""

PARENT = """
id: parent
namespace: tests.sub
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.sub
    flowId: child
    wait: true
    transmitFailed: {transmit}
    inputs:
      name: Ada
      fail: "{{{{ inputs.fail }}}}"
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "child said {{{{ outputs.call.outputs.greeting }}}}"
"""


def _child_of(engine: Engine, parent_id: str):  # type: ignore[no-untyped-def]
    [child] = engine.services.env.executions.children(parent_id)
    return engine.get(child.id)


def test_subflow_with_wait_maps_the_child_outputs(engine: Engine) -> None:
    engine.deploy(CHILD)
    parent = engine.run(PARENT.format(transmit="true"))
    assert parent.state.current == State.SUCCESS
    child = _child_of(engine, parent.id)
    assert child.state.current == State.SUCCESS
    assert child.parent_id == parent.id
    assert child.inputs == {"name": "Ada", "fail": False}
    assert child.outputs == {"greeting": "hello Ada"}
    assert child.trigger is not None and child.trigger.type == "subflow"
    assert child.label_map["system.correlationId"] == parent.id
    call = one_run(parent, "call")
    assert call.outputs["executionId"] == child.id
    assert call.outputs["state"] == "SUCCESS"
    assert call.outputs["outputs"] == {"greeting": "hello Ada"}
    assert engine.messages(parent.id, "use") == ["child said hello Ada"]


def test_a_failed_child_fails_the_parent_with_transmit_failed(engine: Engine) -> None:
    engine.deploy(CHILD)
    parent = engine.run(PARENT.format(transmit="true"), inputs={"fail": "true"})
    child = _child_of(engine, parent.id)
    assert child.state.current == State.FAILED
    assert states(child) == {"greet": State.SUCCESS, "maybe_fail": State.FAILED}
    assert parent.state.current == State.FAILED
    assert states(parent) == {"call": State.FAILED}


def test_a_failed_child_does_not_fail_the_parent_without_transmit_failed(engine: Engine) -> None:
    engine.deploy(CHILD)
    parent = engine.run(PARENT.format(transmit="false").replace(
        "child said {{ outputs.call.outputs.greeting }}", "child ended {{ outputs.call.state }}"),
        inputs={"fail": "true"})
    assert _child_of(engine, parent.id).state.current == State.FAILED
    assert parent.state.current == State.SUCCESS
    assert states(parent) == {"call": State.SUCCESS, "use": State.SUCCESS}
    assert engine.messages(parent.id, "use") == ["child ended FAILED"]


def test_subflow_without_wait_ends_at_once(engine: Engine) -> None:
    engine.deploy(CHILD.replace("type: BOOLEAN\n    defaults: false",
                                "type: BOOLEAN\n    defaults: true"))
    parent = engine.run("""
        id: fire_and_forget
        namespace: tests.sub
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: tests.sub
            flowId: child
            wait: false
            inputs:
              name: Bob
    """)
    assert parent.state.current == State.SUCCESS
    child = _child_of(engine, parent.id)
    assert child.state.current == State.FAILED  # its failure is not the parent's business
    assert one_run(parent, "call").outputs["executionId"] == child.id


def test_killing_the_parent_kills_a_waiting_child(engine: Engine) -> None:
    engine.deploy("""
        id: pausing_child
        namespace: tests.sub
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
    """)
    parent = engine.run("""
        id: kill_parent
        namespace: tests.sub
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: tests.sub
            flowId: pausing_child
    """)
    assert parent.state.current == State.RUNNING
    child = _child_of(engine, parent.id)
    assert child.state.current == State.PAUSED
    engine.services.kill(parent.id)
    engine.drain()
    assert engine.get(parent.id).state.current == State.KILLED
    assert states(engine.get(parent.id)) == {"call": State.KILLED}
    assert engine.get(child.id).state.current == State.KILLED


def test_a_missing_subflow_fails_the_task_clearly(engine: Engine) -> None:
    parent = engine.run("""
        id: orphan
        namespace: tests.sub
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: tests.sub
            flowId: does_not_exist
    """)
    assert parent.state.current == State.FAILED
    assert states(parent) == {"call": State.FAILED}
    assert any("does_not_exist" in m and "not found" in m for m in engine.messages(parent.id, "call"))


ITEM_CHILD = """
id: item_child
namespace: tests.sub
inputs:
  - id: items
    type: STRING
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) | trim }}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ read(inputs.items) contains 'bad' }}"
outputs:
  - id: lines
    type: STRING
    value: "{{ outputs.count.value }}"
"""

FOR_EACH = """
id: for_each
namespace: tests.sub
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 2
    namespace: tests.sub
    flowId: item_child
    wait: true
    transmitFailed: true
    inputs:
      items: "{{ taskrun.items }}"
"""


def test_for_each_item_starts_one_child_per_batch(engine: Engine, tmp_path: Path) -> None:
    engine.deploy(ITEM_CHILD)
    source = tmp_path / "items.txt"
    source.write_text("a\nb\nc\nd\ne\n")
    parent = engine.run(FOR_EACH, inputs={"file": str(source)}, local_files=True)
    assert parent.state.current == State.SUCCESS
    assert [run.task_id for run in parent.task_run_list] == ["each", "each_split", "each_items", "each_merge"]
    assert one_run(parent, "each").state.current == State.SUCCESS
    each = one_run(parent, "each_items")
    assert each.state.current == State.SUCCESS
    assert each.outputs["numberOfBatches"] == 3
    assert each.outputs["iterations"].get("SUCCESS") == 3
    children = engine.services.env.executions.children(parent.id)
    assert len(children) == 3
    contents = sorted(engine.get(c.id).outputs["lines"] for c in children)
    assert contents == ["a\nb", "c\nd", "e"]
    assert all(engine.get(c.id).state.current == State.SUCCESS for c in children)
    merged = engine.services.env.storage.get(one_run(parent, "each_merge").outputs["subflowOutputs"]).decode()
    assert sorted(merged.splitlines()) == sorted(
        ['{"lines": "a\\nb"}', '{"lines": "c\\nd"}', '{"lines": "e"}'])


def test_for_each_item_fails_when_a_batch_fails(engine: Engine, tmp_path: Path) -> None:
    engine.deploy(ITEM_CHILD)
    source = tmp_path / "items.txt"
    source.write_text("a\nb\nbad\nd\n")
    parent = engine.run(FOR_EACH, inputs={"file": str(source)}, local_files=True)
    assert parent.state.current == State.FAILED
    assert one_run(parent, "each").state.current == State.FAILED
    each = one_run(parent, "each_items")
    assert each.state.current == State.FAILED
    assert each.outputs["numberOfBatches"] == 2
    assert each.outputs["iterations"].get("SUCCESS") == 1
    assert each.outputs["iterations"].get("FAILED") == 1
