"""The YAML loader: positions, duplicate keys, syntax errors, scalars as Kestra reads them."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import loader
from engine.loader import LoadedFlow, load_flow, load_flow_text, parse_yaml, validate_source
from engine.plugins.registry import default_registry
from engine.validation import FlowValidationError, Position

REGISTRY = default_registry()
FLOW = """\
id: hello
namespace: company.team
# a comment that must survive
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_positions_of_keys_and_values() -> None:
    document = parse_yaml(FLOW, "hello.yaml")[0]
    assert document.locate(("namespace",)) == Position(2, 12)
    assert document.locate(("tasks",)) == Position(4, 1)
    assert document.locate(("tasks", 0)) == Position(5, 5)
    assert document.locate(("tasks", 0, "message")) == Position(7, 14)
    # an unwritten path is located at its nearest written ancestor
    assert document.locate(("tasks", 0, "level")) == Position(5, 5)


def test_dates_and_yaml11_booleans_stay_text() -> None:
    data = parse_yaml("day: 2024-01-31\nanswer: yes\nswitch: on\nreal: true\n")[0].data
    assert data == {"day": "2024-01-31", "answer": "yes", "switch": "on", "real": True}


def test_duplicate_keys_are_all_reported_with_the_first_line() -> None:
    document = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "d.yaml")[0]
    assert [str(p) for p in document.problems] == [
        "d.yaml:4:3: b.c: duplicate key 'c' (first defined at line 3); Kestra refuses duplicate keys: keep only one",
        "d.yaml:5:1: a: duplicate key 'a' (first defined at line 1); Kestra refuses duplicate keys: keep only one",
    ]
    assert document.data == {"a": 3, "b": {"c": 2}}


def test_syntax_error_has_a_position() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_yaml("id: a\ntasks: [1, 2\n", "s.yaml")
    problem = caught.value.details[0]
    assert problem.file == "s.yaml"
    assert problem.position.line >= 2
    assert problem.message.startswith("YAML syntax error")


def test_multi_document_sources_give_one_flow_each() -> None:
    second = FLOW.replace("id: hello", "id: bye")
    flows, problems = validate_source(FLOW + "---\n" + second, REGISTRY)
    assert problems == []
    assert [f.id for f in flows] == ["hello", "bye"]


def test_load_flow_text_keeps_the_source_verbatim() -> None:
    loaded = load_flow_text(FLOW, REGISTRY, path="hello.yaml")
    assert isinstance(loaded, LoadedFlow)
    assert loaded.source == FLOW and "# a comment" in loaded.source
    assert loaded.flow.id == "hello" and loaded.path == "hello.yaml"


def test_load_flow_text_refuses_several_documents() -> None:
    with pytest.raises(FlowValidationError, match="expected one flow, found 2"):
        load_flow_text(FLOW + "---\n" + FLOW, REGISTRY)


def test_load_flow_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(FLOW)
    assert load_flow(path, REGISTRY).flow.namespace == "company.team"


def test_load_flow_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(FLOW.replace("message: hi", "mesage: hi"))
    with pytest.raises(FlowValidationError) as caught:
        load_flow(path, REGISTRY)
    assert [p.field for p in caught.value.details] == ["tasks[0]", "tasks[0].mesage"]
    assert all(line.startswith(f"{path}:") for line in caught.value.problems)


def test_a_list_at_the_top_is_not_a_flow() -> None:
    _, problems = validate_source("- a\n- b\n", REGISTRY, path="l.yaml")
    assert [str(p) for p in problems] == [
        "l.yaml:1:1: a flow must be a mapping with id, namespace and tasks; this document is a list, not a mapping"]


def test_global_plugin_defaults_fill_required_properties() -> None:
    source = FLOW.replace("    message: hi\n", "")
    defaults = [{"type": "io.kestra.plugin.core.log", "values": {"message": "from defaults"}}]
    loaded = load_flow_text(source, REGISTRY, global_defaults=defaults)
    assert loaded.flow.tasks[0].message == "from defaults"


UNICODE_AND_BLOCKS = """\
id: données
namespace: company.team
labels: {team: "é", tier: 1}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: |
      héllo
      {{ inputs.name }}
    retry: {type: constant, interval: PT1S, maxAttempts: 2}
  - id: anchor
    type: io.kestra.plugin.core.debug.Return
    format: &f 'x: y'
    description: *f
"""


@pytest.mark.skipif(not loader._FAST, reason="PyYAML without libyaml")
@pytest.mark.parametrize("source", [FLOW, UNICODE_AND_BLOCKS, "day: 2024-01-31\nanswer: yes\nreal: TRUE\n",
                                    "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "---\nid: a\n---\nid: b\n"])
def test_libyaml_and_the_pure_python_parser_give_the_same_documents(source: str) -> None:
    fast = loader._parse_with(loader._FastLoader(source), source, "f.yaml")
    slow = loader._parse_with(loader._Loader(source), source, "f.yaml")
    assert [(d.data, d.positions, d.key_positions, [str(p) for p in d.problems]) for d in fast] == \
        [(d.data, d.positions, d.key_positions, [str(p) for p in d.problems]) for d in slow]
