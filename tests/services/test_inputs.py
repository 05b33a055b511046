"""Inputs are validated and typed when the execution is created; a bad one creates nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.services import InputsInvalid
from engine.state import State
from tests.services.conftest import Engine, one_run

TYPED = """
id: typed
namespace: tests.inputs
inputs:
  - id: count
    type: INT
    min: 1
    max: 10
  - id: flag
    type: BOOLEAN
  - id: when
    type: DATETIME
  - id: payload
    type: JSON
  - id: color
    type: SELECT
    values: [red, green]
  - id: ratio
    type: FLOAT
    defaults: 0.5
  - id: day
    type: DATE
    required: false
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: >-
      {{ inputs.count + 1 }} {{ inputs.flag }} {{ inputs.payload.a[1] }} {{ inputs.color }} {{ inputs.ratio * 2 }}
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.when | date('yyyy-MM-dd HH:mm') }}"
"""

GOOD = {"count": "3", "flag": "TRUE", "when": "2024-01-02T10:30:00+02:00", "payload": '{"a": [1, 2]}',
        "color": "green"}


def test_inputs_are_typed_at_creation(engine: Engine) -> None:
    execution = engine.run(TYPED, inputs=GOOD)
    assert execution.state.current == State.SUCCESS
    assert execution.inputs == {"count": 3, "flag": True, "when": "2024-01-02T08:30:00Z",
                                "payload": {"a": [1, 2]}, "color": "green", "ratio": 0.5,
                                "day": None}
    stored = engine.services.env.executions.get(execution.id)
    assert stored is not None and stored.inputs == execution.inputs
    assert engine.messages(execution.id, "show") == ["4 true 2 green 1.0"]
    assert one_run(execution, "ret").outputs == {"value": "2024-01-02 08:30"}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("count", "three", "Invalid input for `count`, it must be an integer, but received `three`"),
    ("count", "11", "Invalid input for `count`"),
    ("when", "yesterday", "Invalid input for `when`"),
    ("payload", "{not json", "Invalid input for `payload`"),
    ("color", "blue", "Invalid input for `color`"),
])
def test_a_bad_input_is_refused_and_nothing_is_created(engine: Engine, name: str, value: str,
                                                       message: str) -> None:
    flow = engine.deploy(TYPED)
    with pytest.raises(InputsInvalid) as caught:
        engine.services.start_execution(flow.namespace, flow.id, inputs={**GOOD, name: value})
    assert message in str(caught.value)
    assert f"but received `{value}`" in str(caught.value)
    assert engine.services.env.executions.list(namespace=flow.namespace).total == 0
    assert engine.drain() == 0


def test_a_missing_required_input_is_refused(engine: Engine) -> None:
    flow = engine.deploy(TYPED)
    without = {k: v for k, v in GOOD.items() if k != "count"}
    with pytest.raises(InputsInvalid, match=r"Invalid input for `count`, missing required input"):
        engine.services.start_execution(flow.namespace, flow.id, inputs=without)
    assert engine.services.env.executions.list(namespace=flow.namespace).total == 0


def test_every_bad_input_is_listed_at_once(engine: Engine) -> None:
    flow = engine.deploy(TYPED)
    with pytest.raises(InputsInvalid) as caught:
        engine.services.start_execution(flow.namespace, flow.id,
                                        inputs={**GOOD, "count": "x", "color": "blue"})
    text = str(caught.value)
    assert "Invalid input for `count`" in text and "Invalid input for `color`" in text


FILE_FLOW = """
id: with_file
namespace: tests.inputs
inputs:
  - id: data
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(inputs.data) }}"
"""


def test_a_file_input_is_uploaded_under_the_execution_inputs_path(engine: Engine, tmp_path: Path) -> None:
    local = tmp_path / "report.csv"
    local.write_text("a,b\n1,2\n")
    execution = engine.run(FILE_FLOW, inputs={"data": str(local)}, local_files=True)
    assert execution.state.current == State.SUCCESS
    uri = execution.inputs["data"]
    assert uri == f"kestra:///tests/inputs/with_file/executions/{execution.id}/inputs/data/report.csv"
    assert engine.services.env.storage.get(uri) == b"a,b\n1,2\n"
    assert engine.messages(execution.id, "show") == ["a,b\n1,2\n"]


def test_a_missing_local_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    flow = engine.deploy(FILE_FLOW)
    with pytest.raises(InputsInvalid, match="cannot read an input file"):
        engine.services.start_execution(flow.namespace, flow.id, inputs={"data": str(tmp_path / "nope.csv")},
                                        local_files=True)
    assert engine.services.env.executions.list(namespace=flow.namespace).total == 0
