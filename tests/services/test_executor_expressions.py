"""Expressions the executor renders (flowables, Labels, flow outputs) reach KV, files and the clock."""
from __future__ import annotations

from engine.state import State
from engine.storage.uris import namespace_file_uri
from tests.services.conftest import Engine, one_run, states


def test_kv_read_and_now_in_executor_rendered_expressions(engine: Engine) -> None:
    engine.services.env.kv.set("tests.expr", "branch", "left", engine.clock())
    engine.services.env.storage.put(namespace_file_uri("tests.expr", "conf/limit.txt"), b"7")
    execution = engine.run("""
        id: executor_io
        namespace: tests.expr
        tasks:
          - id: choose
            type: io.kestra.plugin.core.flow.If
            condition: "{{ kv('branch') == 'left' and fileExists('conf/limit.txt') }}"
            then:
              - id: left
                type: io.kestra.plugin.core.log.Log
                message: left
            else:
              - id: right
                type: io.kestra.plugin.core.log.Log
                message: right
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: "{{ range(1, read('conf/limit.txt') | number) }}"
            tasks:
              - id: item
                type: io.kestra.plugin.core.debug.Return
                format: "{{ taskrun.value }}"
          - id: relabel
            type: io.kestra.plugin.core.execution.Labels
            labels:
              day: "{{ now() | date('yyyy-MM-dd') }}"
        outputs:
          - id: limit
            type: INT
            value: "{{ read('conf/limit.txt') }}"
    """)
    assert execution.state.current == State.SUCCESS, engine.messages(execution.id)
    assert "left" in states(execution) and "right" not in states(execution)
    assert [r.value for r in execution.task_run_list if r.task_id == "item"] == [str(i) for i in range(1, 8)]
    assert execution.label_map["day"] == "2024-06-03"
    assert execution.outputs == {"limit": 7}
    assert one_run(execution, "choose").state.current == State.SUCCESS


def test_kv_of_a_namespace_outside_the_flow_s_tree_is_refused_in_executor_expressions(engine: Engine) -> None:
    engine.services.env.kv.set("tests.other", "branch", "left", engine.clock())
    execution = engine.run("""
        id: executor_kv
        namespace: tests.expr
        tasks:
          - id: choose
            type: io.kestra.plugin.core.flow.If
            condition: "{{ kv('branch', 'tests.other') == 'left' }}"
            then:
              - id: left
                type: io.kestra.plugin.core.log.Log
                message: left
    """)
    assert execution.state.current == State.FAILED
    assert "left" not in states(execution)
    assert any("Cannot access the KV store of namespace 'tests.other' from a flow of namespace 'tests.expr'" in m
               for m in engine.messages(execution.id)), engine.messages(execution.id)


def test_input_defaults_may_use_now(engine: Engine) -> None:
    execution = engine.run("""
        id: default_now
        namespace: tests.expr
        inputs:
          - id: day
            type: STRING
            defaults: "{{ now() | date('yyyy-MM-dd') }}"
        tasks:
          - id: show
            type: io.kestra.plugin.core.log.Log
            message: "{{ inputs.day }}"
    """)
    assert execution.state.current == State.SUCCESS
    assert execution.inputs == {"day": "2024-06-03"}
