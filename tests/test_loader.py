"""The YAML loader: positions, duplicate keys, syntax errors, scalars as Kestra reads them."""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest
import yaml

from engine import loader
from engine.loader import (
    LoadedFlow,
    check_document,
    load_flow,
    load_flow_text,
    parse_yaml,
    read_flow_file,
    validate_source,
)
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


def test_keys_are_their_text_as_jackson_reads_them() -> None:
    document = parse_yaml('1: a\ntrue: b\n2.50: c\nnull: d\n"1.0": e\n')[0]
    assert document.data == {"1": "a", "true": "b", "2.50": "c", "null": "d", "1.0": "e"}
    assert not document.problems  # 1 and true are two keys, as two texts
    assert [p.message for p in parse_yaml('1: a\n"1": b\n')[0].problems] == [
        "duplicate key '1' (first defined at line 1); Kestra refuses duplicate keys: keep only one"]


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
    fast = loader._parse_with(loader._FastLoader, source, "f.yaml")
    slow = loader._parse_with(loader._Loader, source, "f.yaml")
    assert [(d.data, d.positions, d.key_positions, [str(p) for p in d.problems]) for d in fast] == \
        [(d.data, d.positions, d.key_positions, [str(p) for p in d.problems]) for d in slow]


# ----------------------------------------------------------------------------- hostile YAML

def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: ~100 bytes per level, 9**levels strings once expanded."""
    lines = ["id: bomb", "namespace: company.team", 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + FLOW.split("\n", 2)[2]


def only_problem(source: str, path: str = "h.yaml") -> str:
    _, problems = validate_source(source, REGISTRY, path=path)
    assert len(problems) == 1, problems
    return str(problems[0])


PARSERS = [pytest.param(loader._Loader, id="python"),
           pytest.param(getattr(loader, "_FastLoader", None), id="libyaml",
                        marks=pytest.mark.skipif(not loader._FAST, reason="PyYAML without libyaml"))]


@pytest.mark.parametrize("parser", PARSERS)
def test_an_alias_bomb_is_refused_before_it_is_expanded(parser: type) -> None:
    with pytest.raises(yaml.YAMLError, match=r"expand the document beyond 100,000 values or 3,145,728 characters "
                                             r"\(an alias bomb\)"):
        loader._parse_with(parser, billion_laughs(), "bomb.yaml")


def test_an_alias_bomb_is_one_located_problem() -> None:
    assert only_problem(billion_laughs(), "bomb.yaml") == (
        "bomb.yaml:8:5: the YAML aliases (*name) here expand the document beyond 100,000 values or "
        "3,145,728 characters (an alias bomb); write the values out or use fewer aliases")


def test_a_recursive_alias_and_too_many_aliases_are_refused() -> None:
    assert only_problem("a: &a [1, *a]\n") == (
        "h.yaml:1:4: an alias refers to the value it is part of (a recursive value); a value cannot contain itself")
    many = "v: &v 1\nlist:\n" + "  - *v\n" * 101
    assert only_problem(many) == ("h.yaml:3:3: more than 100 YAML aliases (*name) in one document; "
                                  "write the values out")


def test_a_few_anchors_still_share_values() -> None:
    source = FLOW + "variables:\n  base: &base {retries: 2, tags: [a, b]}\n  copy: *base\n  again: *base\n"
    data = parse_yaml(source)[0].data
    assert data["variables"]["copy"] == data["variables"]["again"] == {"retries": 2, "tags": ["a", "b"]}
    data["variables"]["copy"]["tags"].append("c")  # each alias is its own copy, as in Jackson
    assert data["variables"]["again"]["tags"] == ["a", "b"]


@pytest.mark.parametrize("nesting", [" " + "[" * 10_000 + "]" * 10_000, "\n" + "- " * 100_000 + "x",
                                     " " + "[" * 300 + "]" * 300,
                                     "\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(250)) + "  " * 250 + "v"])
def test_deep_nesting_is_one_located_problem(nesting: str) -> None:
    problem = only_problem(f"id: deep\nnamespace: company.team\nx:{nesting}\n")
    assert re.fullmatch(r"h\.yaml:\d+:\d+: the YAML is nested more than 200 levels deep; flatten it "
                        r"\(no flow needs that many levels\)", problem), problem


@pytest.mark.parametrize("character", ["\x01", "\x00", "\x7f", "\x1b"])
def test_a_control_character_is_located_with_how_to_write_it(character: str) -> None:
    source = FLOW.replace("message: hi", f'message: "hi{character}"')
    code = ord(character)
    assert only_problem(source) == (f"h.yaml:7:17: the character U+{code:04X} is not allowed in YAML; remove it, "
                                    f'or write it as "\\x{code:02x}" inside a double-quoted string')


def test_an_integer_of_thousands_of_digits_is_a_problem_at_its_value() -> None:
    source = FLOW + "variables:\n  big: " + "9" * 5000 + "\n"
    assert only_problem(source) == ("h.yaml:9:8: variables.big: a number of 5,000 characters is longer than "
                                    "the limit of 1,000; quote it to keep it as text")


def test_badly_tagged_values_and_list_keys_are_problems() -> None:
    source = FLOW + "variables:\n  a: !!int abc\n  b: !!bool maybe\n  ? [x]\n  : y\n"
    _, problems = validate_source(source, REGISTRY, path="h.yaml")
    assert [str(p) for p in problems] == [
        "h.yaml:9:6: variables.a: cannot read this value as int (invalid literal for int() with base 10: 'abc')",
        "h.yaml:10:6: variables.b: cannot read this value as bool ('maybe')",
        "h.yaml:11:5: variables: a key must be a plain value (text or a number), not a list or mapping; "
        "write the key as text"]


def test_a_document_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    source = FLOW + "#" * (3 * 1024 * 1024)
    assert only_problem(source) == (
        f"h.yaml:1:1: the YAML text has {len(source):,} characters, more than the limit of 3,145,728; "
        "split it or keep large data in files")
    big = tmp_path / "big.yaml"
    big.write_bytes(FLOW.encode() + b"#" * (13 * 1024 * 1024))
    with pytest.raises(FlowValidationError, match="the file is larger than a flow may be"):
        read_flow_file(big)


def test_a_non_string_input_dependency_is_a_type_problem() -> None:
    source = FLOW + "inputs:\n  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [[b]]\n"
    assert only_problem(source) == "h.yaml:12:16: inputs[0].dependsOn.inputs[0]: expected a string, got a list"


def nested_flow(levels: int) -> str:
    """A flow of ``levels`` Sequential tasks, each inside the one before."""
    lines, indent = ["id: nested", "namespace: company.team", "tasks:"], "  "
    for level in range(levels):
        lines += [f"{indent}- id: s{level}", f"{indent}  type: io.kestra.plugin.core.flow.Sequential",
                  f"{indent}  tasks:"]
        indent += "    "
    lines += [f"{indent}- id: leaf", f"{indent}  type: io.kestra.plugin.core.log.Log", f"{indent}  message: hi"]
    return "\n".join(lines) + "\n"


def test_a_flow_nested_98_tasks_deep_is_valid() -> None:
    assert validate_source(nested_flow(98), REGISTRY)[1] == []


def test_a_recursion_error_while_validating_is_a_problem() -> None:
    document = parse_yaml(nested_flow(30), "h.yaml")[0]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 60)  # less room than validating 30 levels needs
    try:
        flow, problems = check_document(document, REGISTRY)
    finally:
        sys.setrecursionlimit(limit)
    assert flow is None
    assert [str(p) for p in problems] == ["h.yaml:1:1: the flow is nested too deeply to validate; "
                                          "flatten it: move deep branches into subflows"]


@pytest.mark.parametrize("item", ["  - lol\n", "  - [a, b, c]\n", "  - !!str tagged\n"])
def test_more_than_100_000_values_are_refused_before_they_are_built(item: str) -> None:
    source = FLOW + "variables:\n  l:\n" + item * 100_000
    problem = only_problem(source)
    assert re.fullmatch(r"h\.yaml:\d+:\d+: the YAML holds more than 100,000 values; no flow needs that many: "
                        r"keep large data in files \(namespace files, kestra:// URIs\)", problem), problem


def test_a_syntax_error_in_a_big_flow_is_located_by_libyaml_alone() -> None:
    source = FLOW + "variables:\n" + "".join(f"  v{i}: {i}\n" for i in range(8000)) + "  bad: [1, 2\n"
    assert len(source) > 64 * 1024  # too long to parse again in pure Python
    problem = only_problem(source)
    assert problem.startswith(f"h.yaml:{source.count(chr(10)) + 1}:1: YAML syntax error: "), problem


def test_a_duration_longer_than_python_can_hold_is_a_problem() -> None:
    source = FLOW + "    timeout: P99999999999999999999999D\n"
    assert only_problem(source) == ("h.yaml:8:14: tasks[0].timeout: 'P99999999999999999999999D' is longer than "
                                    "the longest duration, P999999999D")
