"""FILE inputs by who gives them, and the files an execution reads (docs/flow-language.md, *Files and
URIs*): the CLI's user uploads host files; a flow (Subflow, ForEachItem, trigger, Resume task,
``defaults``) passes URIs of files the new execution may read, never a host path."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.services.executions import InputsInvalid
from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, one_run, states

CHILD = """
id: child
namespace: {namespace}
inputs:
  - id: f
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "got {{{{ read(inputs.f) }}}}"
  - id: made
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      made.txt: "made by the child"
    outputs: ["*.txt"]
outputs:
  - id: made
    type: FILE
    value: "{{{{ outputs.made.uris['made.txt'] }}}}"
"""

PARENT = """
id: parent
namespace: tests.files
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      data.txt: "parent data"
    outputs: ["*.txt"]
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {namespace}
    flowId: child
    wait: true
    transmitFailed: true
    inputs:
      f: "{file}"
  - id: back
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ read(outputs.call.outputs.made) }}}}"
"""


def _parent(engine: Engine, file: str, namespace: str = "tests.files") -> tuple[str, State, str]:
    engine.deploy(CHILD.format(namespace=namespace))
    parent = engine.run(PARENT.format(namespace=namespace, file=file))
    call = one_run(parent, "call")
    return parent.id, parent.state.current, str(call.outputs.get("error", ""))


def test_a_subflow_cannot_hand_a_host_file_to_its_child(engine: Engine, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    parent_id, state, error = _parent(engine, str(secret))
    assert state == State.FAILED
    assert error == (f"Invalid input for `f`, a FILE value given by a flow must be a kestra:///, nsfile:/// or "
                     f"file:/// URI; a path of this host is read only from the command line "
                     f"(podium run flow.yaml -i id=./data.csv), but received `{secret}`")
    assert any(f"cannot start subflow tests.files.child: {error}" == m for m in engine.messages(parent_id, "call"))
    storage = engine.services.env.storage
    assert not [uri for uri in storage.list("kestra:///tests/files/child") if "secret" in uri]


def test_a_subflow_hands_its_own_file_and_reads_the_file_its_child_returns(engine: Engine) -> None:
    # The child lives in another namespace: it reads its parent's file, the parent reads its child's.
    parent_id, state, error = _parent(engine, "{{ outputs.write.uris['data.txt'] }}", namespace="other.tools")
    assert (state, error) == (State.SUCCESS, "")
    parent = engine.get(parent_id)
    assert one_run(parent, "back").outputs == {"value": "made by the child"}
    [child] = engine.services.env.executions.children(parent_id)
    assert engine.messages(child.id, "show") == ["got parent data"]


def test_a_subflow_cannot_hand_another_namespaces_file(engine: Engine) -> None:
    other = engine.services.env.storage.put(
        "kestra:///other/ns/flow/executions/e1/tasks/t/r/secret.txt", b"TOP-SECRET")
    _, state, error = _parent(engine, other)
    assert state == State.FAILED
    assert error.startswith(f"Invalid input for `f`, cannot read '{other}': it belongs to namespace 'other.ns'; "
                            "a flow of 'tests.files' reads the files of its own execution")


FILE_FLOW = """
id: with_file
namespace: tests.files
inputs:
  - id: f
    type: FILE
  - id: from_namespace
    type: FILE
    defaults: nsfile:///conf/settings.txt
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ read(inputs.f) == 'yes' }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: "{{ read(inputs.from_namespace) }}"
"""


def test_the_cli_user_uploads_host_files_and_the_executor_reads_them(engine: Engine, tmp_path: Path) -> None:
    engine.services.env.storage.put("kestra:///tests/files/_files/conf/settings.txt", b"from the namespace")
    local = tmp_path / "answer.txt"
    local.write_text("yes")
    for value in (str(local), f"file://{local}"):
        execution = engine.run(FILE_FLOW, inputs={"f": value}, local_files=True)
        assert execution.state.current == State.SUCCESS, engine.messages(execution.id)
        assert execution.inputs == {
            "f": f"kestra:///tests/files/with_file/executions/{execution.id}/inputs/f/answer.txt",
            "from_namespace": "nsfile:///conf/settings.txt"}
        assert engine.messages(execution.id, "yes") == ["from the namespace"]
        replayed = engine.services.replay(execution.id)  # reads the inputs its original uploaded
        engine.drain()
        assert engine.get(replayed.id).state.current == State.SUCCESS
    flow = engine.deploy(FILE_FLOW)
    with pytest.raises(InputsInvalid, match="a path of this host is read only from the command line"):
        engine.services.start_execution(flow.namespace, flow.id, inputs={"f": str(local)})
    with pytest.raises(InputsInvalid, match="is not a regular file"):
        engine.services.start_execution(flow.namespace, flow.id, inputs={"f": "/dev/zero"}, local_files=True)


STRING_FLOW = """
id: with_string
namespace: tests.files
inputs:
  - id: u
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ read(inputs.u) == 'yes' }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: "yes"
"""


def test_the_executor_reads_as_the_execution_it_steps(engine: Engine) -> None:
    other = engine.services.env.storage.put("kestra:///other/ns/flow/executions/e1/tasks/t/r/x.txt", b"yes")
    execution = engine.run(STRING_FLOW, inputs={"u": other})
    assert execution.state.current == State.FAILED
    assert states(execution) == {"check": State.FAILED}
    assert any(f"cannot read '{other}': it belongs to namespace 'other.ns'" in m for m in engine.messages(execution.id))
    flow = engine.deploy(FILE_FLOW)
    with pytest.raises(InputsInvalid, match=f"cannot read '{other}': it belongs to namespace 'other.ns'"):
        engine.services.start_execution(flow.namespace, flow.id, inputs={"f": other})


PAUSED = """
id: paused
namespace: tests.files
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: doc
        type: FILE
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.ask.onResume.doc) }}"
"""


def test_resume_uploads_host_files_only_for_the_cli_user(engine: Engine, tmp_path: Path) -> None:
    local = tmp_path / "doc.txt"
    local.write_text("approved")
    execution = engine.run(PAUSED)
    with pytest.raises(InputsInvalid, match="a path of this host is read only from the command line"):
        engine.services.resume(execution.id, {"doc": str(local)})  # as a Resume task would
    engine.services.resume(execution.id, {"doc": str(local)}, local_files=True)
    engine.drain()
    assert engine.get(execution.id).state.current == State.SUCCESS
    assert engine.messages(execution.id, "show") == ["approved"]


ITEMS = """
id: items
namespace: tests.files
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{items}"
    batch:
      rows: 1
    namespace: tests.files
    flowId: child
    inputs:
      f: "{{{{ taskrun.items }}}}"
"""


def test_for_each_item_splits_only_a_file_its_execution_may_read(engine: Engine) -> None:
    engine.deploy(CHILD.format(namespace="tests.files"))
    other = engine.services.env.storage.put("kestra:///other/ns/flow/executions/e1/tasks/t/r/x.txt", b"a\nb\n")
    execution = engine.run(ITEMS.format(items=other))
    assert states(execution)["each"] == State.FAILED
    [message] = [m for m in engine.messages(execution.id) if m.startswith("cannot split")]
    assert message.startswith(f"cannot split the items of '{other}': cannot read '{other}': it belongs to "
                              "namespace 'other.ns'")
    assert not engine.services.env.executions.children(execution.id)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "in.txt").write_text("yes")
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    local_files={"allowed_paths": [allowed]})


def test_file_uris_under_the_allowed_paths_are_read_where_flows_read_files(engine: Engine, tmp_path: Path) -> None:
    engine.services.env.storage.put("kestra:///tests/files/_files/conf/settings.txt", b"from the namespace")
    execution = engine.run(FILE_FLOW, inputs={"f": f"file://{tmp_path}/allowed/in.txt"})
    assert execution.state.current == State.SUCCESS
    assert execution.inputs["f"] == f"file://{tmp_path}/allowed/in.txt"  # a flow's URI is kept, not copied
    (tmp_path / "outside.txt").write_text("yes")
    flow = engine.deploy(FILE_FLOW)
    with pytest.raises(InputsInvalid, match="it is outside the folders flows may read"):
        engine.services.start_execution(flow.namespace, flow.id, inputs={"f": f"file://{tmp_path}/outside.txt"})


UPSTREAM = """
id: upstream
namespace: tests.files
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      out.txt: "upstream data"
    outputs: ["*.txt"]
outputs:
  - id: out
    type: FILE
    value: "{{ outputs.write.uris['out.txt'] }}"
"""

DOWNSTREAM = """
id: downstream
namespace: tests.files
inputs:
  - id: f
    type: FILE
  - id: leak
    type: FILE
    required: false
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "got {{{{ read(inputs.f) }}}}"
triggers:
  - id: on_upstream
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      f: "{{{{ trigger.outputs.out }}}}"
      leak: {leak}
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.files
        flowId: upstream
"""


def test_a_flow_trigger_hands_the_upstream_file_but_never_copies_a_host_file(engine: Engine, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    engine.deploy(DOWNSTREAM.format(leak=secret))
    engine.run(UPSTREAM)
    [started] = engine.services.env.executions.list(flow_id="downstream").items
    assert engine.messages(started.id, "show") == ["got upstream data"]
    # Kestra keeps a trigger's inputs that do not validate as given: the path stays a string, unread.
    assert started.inputs["leak"] == str(secret)
    storage = engine.services.env.storage
    assert not [uri for uri in storage.list("kestra:///tests/files/downstream") if "secret" in uri]
