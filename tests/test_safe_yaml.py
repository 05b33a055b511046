"""engine.safe_yaml and engine.safe_json: hostile YAML and JSON refused at once, in one line, on
both YAML parsers; and the ``yaml()`` expression function that reads through them."""
from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from engine import safe_json, safe_yaml
from engine.templating.errors import ExpressionError
from engine.templating.renderer import Renderer

LOADERS = [pytest.param(safe_yaml.SafeLoader, id="python"),
           pytest.param(getattr(safe_yaml, "_FastSafeLoader", None), id="libyaml",
                        marks=pytest.mark.skipif(not safe_yaml.FAST, reason="PyYAML without libyaml"))]


def bomb(levels: int = 9, width: int = 9) -> str:
    text = f"l0: &l0 [{', '.join(['lol'] * width)}]\n"
    return text + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]\n" for i in range(1, levels))


def refusal(text: str) -> str:
    with pytest.raises(yaml.YAMLError) as caught:
        safe_yaml.load(text)
    return safe_yaml.one_line(caught.value, text)


@pytest.mark.parametrize("text", ["a: 1\nb: [x, 2.5, null, true]\nc: {d: 2024-01-31}\n", "", "just text",
                                  "x: &x {k: v}\ny: *x\nz: {<<: *x, w: 1}\n", "- yes\n- on\n- 0x1F\n"])
@pytest.mark.parametrize("loader", LOADERS)
def test_ordinary_yaml_reads_as_yaml_safe_load_reads_it(text: str, loader: type) -> None:
    assert safe_yaml._load_with(loader, text) == yaml.safe_load(text)
    assert safe_yaml.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_billion_laughs_is_refused_on_both_parsers(loader: type) -> None:
    with pytest.raises(safe_yaml.YamlLimitError, match="an alias bomb"):
        safe_yaml._load_with(loader, bomb())


@pytest.mark.parametrize(("text", "message"), [
    (bomb(), "line 6, column 5: the YAML aliases (*name) here expand the document beyond 100,000 values or "
             "3,145,728 characters (an alias bomb); write the values out or use fewer aliases"),
    ("big: &b '" + "x" * 100_000 + "'\nl: [" + ", ".join(["*b"] * 40) + "]\n",
     "line 2, column 4: the YAML aliases (*name) here expand the document beyond 100,000 values or "
     "3,145,728 characters (an alias bomb); write the values out or use fewer aliases"),
    ("a: &a {b: *a}", "line 1, column 8: an alias refers to the value it is part of (a recursive value); "
                      "a value cannot contain itself"),
    ("v: &v 1\nl: [" + ", ".join(["*v"] * 101) + "]", "line 2, column 4: more than 100 YAML aliases (*name) "
                                                       "in one document; write the values out"),
    ("[" * 5000 + "]" * 5000, "line 1, column 1001: the YAML is nested more than 200 levels deep; "
                              "flatten it (no flow needs that many levels)"),
    ("x:\n" + "- " * 250 + "v", "line 2, column 399: the YAML is nested more than 200 levels deep; "
                                "flatten it (no flow needs that many levels)"),
    ("n: " + "1" * 1001, "line 1, column 4: a number of 1,001 characters is longer than the limit of 1,000; "
                         "quote it to keep it as text"),
    ("n: !!float " + "1" * 1001, "line 1, column 4: a number of 1,001 characters is longer than the limit "
                                 "of 1,000; quote it to keep it as text"),
    ("x: !!timestamp soon", "line 1, column 4: cannot read this value as timestamp ('NoneType' object has no "
                            "attribute 'groupdict')"),
    ("x: \x1b[31m", "line 1, column 4: the character U+001B is not allowed in YAML; remove it, or write it as "
                    '"\\x1b" inside a double-quoted string'),
    ("x: [1, 2", "line 1, column 9: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"),
    ("x: 1\n" * (1024 * 1024), "the YAML text has 5,242,880 characters, more than the limit of 3,145,728; "
                               "split it or keep large data in files"),
])
def test_hostile_yaml_is_one_located_line(text: str, message: str) -> None:
    assert refusal(text) == message


def test_anchors_within_the_limits_are_read() -> None:
    text = "base: &b {retries: 2}\n" + "".join(f"t{i}: *b\n" for i in range(100))
    assert safe_yaml.load(text)["t99"] == {"retries": 2}
    assert safe_yaml.load(bomb(levels=4))["l3"][0][0][0] == ["lol"] * 9


def test_the_yaml_function_refuses_a_bomb_with_a_clear_message() -> None:
    renderer = Renderer()
    assert renderer.render_typed("{{ yaml(text) }}", {"text": "a: &a [1]\nb: *a"}) == {"a": [1], "b": [1]}
    with pytest.raises(ExpressionError, match=r"yaml: the value is not valid YAML \(line 6, column 5: the YAML "
                                              r"aliases \(\*name\) here expand the document beyond"):
        renderer.render_typed("{{ yaml(text) }}", {"text": bomb()})
    with pytest.raises(ExpressionError, match="nested more than 200 levels deep"):
        renderer.render_typed("{{ yaml(text) }}", {"text": "[" * 100_000})
    with pytest.raises(ExpressionError, match="a number of 5,000 characters"):
        renderer.render_typed("{{ yaml(text) }}", {"text": "9" * 5000})


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000, "the value is nested more than 200 levels deep; flatten it"),
    ("[" * 201 + "]" * 201, "the value is nested more than 200 levels deep; flatten it"),
    ('{"n": ' + "9" * 5000 + "}", "a number of 5,000 characters is longer than the limit of 1,000; "
                                  "send it as a string"),
    ("[Infinity]", "Infinity is not a JSON number; send it as a string or null"),
    ("[1e400]", "the number 1e400 is out of the range of a 64-bit float; send it as a string"),
    ("{bad", "Expecting property name enclosed in double quotes at line 1, column 2"),
])
def test_hostile_json_is_one_clear_value_error(text: str, message: str) -> None:
    with pytest.raises(safe_json.JsonLimitError) as caught:
        safe_json.loads(text)
    assert str(caught.value) == message


def test_ordinary_json_reads_as_json_loads_reads_it() -> None:
    text = '{"a": [1, 2.5, null, true, "x"], "b": {"c": -3}}'
    value: Any = safe_json.loads(text)
    assert value == json.loads(text)
    assert safe_json.loads("[" * 200 + "]" * 200) is not None


def test_more_than_100_000_values_are_refused() -> None:
    for text in ["[" + "1, " * 100_001 + "]", "- !!int 1\n" * 100_001]:  # resolved, and tagged (not resolved)
        with pytest.raises(safe_yaml.YamlLimitError, match="the YAML holds more than 100,000 values"):
            safe_yaml.load(text)


def test_a_big_ordinary_document_is_read() -> None:
    assert len(safe_yaml.load("[" + "1, " * 20_000 + "]")) == 20_000
