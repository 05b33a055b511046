"""WorkingDirectory (children share one folder) and execution labels."""
from __future__ import annotations

from engine.state import State
from tests.services.conftest import Engine, one_run, states

WORKING_DIRECTORY = """
id: shared_folder
namespace: tests.wd
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: "hello from {{ flow.id }}"
          data/numbers.csv: "1,2,3"
      - id: read
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - "*.txt"
          - "data/*.csv"
      - id: show
        type: io.kestra.plugin.core.log.Log
        message: "{{ read(outputs.read.uris['hello.txt']) }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.read.uris['data/numbers.csv']) }}"
"""


def test_working_directory_children_share_one_folder(engine: Engine) -> None:
    execution = engine.run(WORKING_DIRECTORY)
    assert execution.state.current == State.SUCCESS
    assert states(execution) == {"wd": State.SUCCESS, "write": State.SUCCESS, "read": State.SUCCESS,
                                 "show": State.SUCCESS, "after": State.SUCCESS}
    wd = one_run(execution, "wd")
    children = [r for r in execution.task_run_list if r.parent_task_run_id == wd.id]
    assert [r.task_id for r in children] == ["write", "read", "show"]
    uris = one_run(execution, "read").outputs["uris"]
    assert set(uris) == {"hello.txt", "data/numbers.csv"}
    assert engine.services.env.storage.get(uris["hello.txt"]) == b"hello from shared_folder"
    assert engine.messages(execution.id, "show") == ["hello from shared_folder"]
    assert engine.messages(execution.id, "after") == ["1,2,3"]


def test_a_failing_child_fails_the_working_directory_and_runs_its_errors(engine: Engine) -> None:
    execution = engine.run("""
        id: failing_folder
        namespace: tests.wd
        tasks:
          - id: wd
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - id: write
                type: io.kestra.plugin.core.storage.LocalFiles
                inputs:
                  note.txt: kept
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
              - id: skipped
                type: io.kestra.plugin.core.log.Log
                message: never
            errors:
              - id: cleanup
                type: io.kestra.plugin.core.storage.LocalFiles
                outputs:
                  - note.txt
    """)
    assert execution.state.current == State.FAILED
    assert states(execution) == {"wd": State.FAILED, "write": State.SUCCESS, "boom": State.FAILED,
                                 "cleanup": State.SUCCESS}
    note = one_run(execution, "cleanup").outputs["uris"]["note.txt"]
    assert engine.services.env.storage.get(note) == b"kept"


LABELLED = """
id: labelled
namespace: tests.labels
labels:
  team: data
  env: test
tasks:
  - id: relabel
    type: io.kestra.plugin.core.execution.Labels
    labels:
      env: "prod-{{ inputs.n }}"
      computed: "{{ inputs.n * 2 }}"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ labels.env }} {{ labels.computed }}"
inputs:
  - id: n
    type: INT
    defaults: 21
"""


def test_flow_labels_execution_labels_and_the_correlation_id(engine: Engine) -> None:
    execution = engine.run(LABELLED, labels={"requester": "ada", "team": "ops"})
    assert execution.state.current == State.SUCCESS
    labels = execution.label_map
    assert labels["team"] == "ops"  # the execution's label wins over the flow's
    assert labels["requester"] == "ada"
    assert labels["system.correlationId"] == execution.id
    assert labels["env"] == "prod-21" and labels["computed"] == "42"
    assert one_run(execution, "relabel").state.current == State.SUCCESS
    assert engine.messages(execution.id, "show") == ["prod-21 42"]
    found = engine.services.env.executions.list(labels={"env": "prod-21"})
    assert [item.id for item in found.items] == [execution.id]


def test_flow_labels_without_a_labels_task(engine: Engine) -> None:
    execution = engine.run("""
        id: plain
        namespace: tests.labels
        labels:
          team: data
        tasks:
          - id: show
            type: io.kestra.plugin.core.log.Log
            message: hi
    """)
    assert execution.label_map == {"team": "data", "system.correlationId": execution.id}
    assert [label.key for label in execution.labels][-1] == "system.correlationId"


def test_the_labels_task_refuses_system_labels(engine: Engine) -> None:
    execution = engine.run("""
        id: sneaky
        namespace: tests.labels
        tasks:
          - id: relabel
            type: io.kestra.plugin.core.execution.Labels
            labels:
              system.correlationId: forged
    """)
    assert execution.state.current == State.FAILED
    assert one_run(execution, "relabel").state.current == State.FAILED
    assert execution.label_map["system.correlationId"] == execution.id
