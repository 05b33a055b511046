"""Pebble-vs-Jinja2 differences, operators, tests and filters: one table, one assertion each."""
from __future__ import annotations

from typing import Any

import pytest

from engine.templating import Renderer, is_template

CTX: dict[str, Any] = {
    "inputs": {"name": "world", "n": 5, "f": 1.5, "flag": True, "none": None, "empty": "",
               "list": [3, 1, 2], "map": {"a": 1, "b": "x"}, "words": "hello big world",
               "json": '{"a": [1, 2]}', "nested": {"deep": {"value": 42}}},
    "outputs": {"my-task": {"value": "dash"}, "task-1": {"value": "one"},
                "ov": {"values": {"count": "4", "items": [1]}}, "t": {"value": "v"}},
    "flow": {"id": "f", "namespace": "company.team"},
    "taskrun": {"value": "b"},
}

CASES: list[tuple[str, str, str]] = [
    # -- plain text and output stringification ----------------------------------------------
    ("no expression here", "no expression here", "fast path"),
    ("single { brace }", "single { brace }", "lone brace"),
    ("{{ inputs.name }}", "world", "variable"),
    ("{{ inputs.map }}", '{"a":1,"b":"x"}', "map as compact JSON"),
    ("{{ inputs.list }}", "[3,1,2]", "list as JSON"),
    ("{{ inputs.flag }}", "true", "boolean true"),
    ("{{ false }}", "false", "boolean literal"),
    ("[{{ inputs.none }}]", "[]", "null prints nothing"),
    ("{{ null }}", "", "null literal"),
    ("{{ 1.0 }}", "1.0", "Java float"),
    ("{{ 3.65 }}", "3.65", "Java float 2"),
    ("{{ 10000000.0 }}", "1.0E7", "Java exponent form"),
    ("{{ 10l }}", "10", "long literal"),
    ("{{ 10L + 1 }}", "11", "long literal upper"),
    ("a\n{{ inputs.name }}\n", "a\nworld\n", "trailing newline kept"),
    ("{% if true %}\nx\n{% endif %}\n", "\nx\n\n", "no trim_blocks"),
    ("{{- ' a ' -}}  ", " a ", "whitespace control"),
    ("x{# comment #}y", "xy", "comment"),
    ("{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}", "raw kept"),
    ("{% verbatim %}{{ x }}{% endverbatim %}", "{{ x }}", "verbatim"),
    ("{{ '}}' }}", "}}", "closing delimiter inside a string"),
    ("{{ {'a': {'b': 1}} }}", '{"a":{"b":1}}', "nested map literal"),
    ('{{ "Hello #{inputs.name}!" }}', "Hello world!", "string interpolation"),
    ("{{ 'it\\'s' }}", "it's", "escaped quote"),
    ("{{ 'a\\nb' }}", "a\\nb", "Pebble keeps other backslashes"),
    # -- attribute access ---------------------------------------------------------------------
    ("{{ outputs.my-task.value }}", "dash", "hyphenated id after a dot"),
    ("{{ outputs['my-task'].value }}", "dash", "hyphenated id subscript"),
    ('{{ outputs["my-task"]["value"] }}', "dash", "double-quoted subscript"),
    ("{{ outputs.task-1.value }}", "one", "hyphen then digit"),
    ("{{ inputs.n - 1 }}", "4", "spaced minus subtracts"),
    ("{{ inputs.n-1 }}", "4", "digit after hyphen at the end subtracts"),
    ("{{ outputs.ov.values.count }}", "4", "key named like a dict method"),
    ("{{ outputs.ov.values.items }}", "[1]", "key named items"),
    ("{{ inputs.list[0] }}", "3", "index"),
    ("{{ inputs.list.1 }}", "1", "dotted index"),
    ("{{ inputs.nested.deep.value }}", "42", "deep path"),
    ("{{ inputs['map'][taskrun.value] }}", "x", "dynamic key"),
    # -- ?? and ??? -----------------------------------------------------------------------------
    ("{{ inputs.missing ?? 'd' }}", "d", "?? undefined"),
    ("{{ inputs.none ?? 'd' }}", "d", "?? null"),
    ("{{ inputs.name ?? 'd' }}", "world", "?? defined"),
    ("{{ nope.a.b.c ?? 'd' }}", "d", "?? deep undefined chain"),
    ("{{ inputs.x ?? inputs.y ?? 'last' }}", "last", "?? chained"),
    ("{{ inputs.x ?? inputs.none }}", "", "?? right side may be null"),
    ("{{ inputs.missing ??? 'd' }}", "d", "??? undefined"),
    ("[{{ inputs.none ??? 'd' }}]", "[]", "??? keeps null"),
    ("{{ (inputs.x ?? 'NONE') == 'NONE' ? 'y' : 'n' }}", "y", "?? in a ternary"),
    ("{{ inputs.x ?? 'a' | upper }}", "A", "?? binds tighter than |"),
    ("{{ 'p' ~ inputs.x ?? 'a' }}", "pa", "?? binds tighter than ~"),
    # -- operators ------------------------------------------------------------------------------
    ("{{ inputs.flag ? 'yes' : 'no' }}", "yes", "ternary"),
    ("{{ inputs.n > 3 ? (inputs.n > 4 ? 'big' : 'mid') : 'small' }}", "big", "nested ternary"),
    ("{{ inputs.list contains 2 }}", "true", "contains list"),
    ("{{ inputs.list contains [1, 2] }}", "true", "contains list in list"),
    ("{{ inputs.map contains 'a' }}", "true", "contains map key"),
    ("{{ inputs.words contains 'big' }}", "true", "contains substring"),
    ("{{ 'z' isIn ['a', 'z'] }}", "true", "isIn"),
    ("{{ inputs.name equals 'world' }}", "true", "equals"),
    ("{{ 1 == 1.0 }}", "true", "numeric equality"),
    ("{{ true == 1 }}", "false", "booleans are not numbers"),
    ("{{ 10 / 4 }}", "2", "integer division truncates"),
    ("{{ -7 / 2 }}", "-3", "integer division towards zero"),
    ("{{ -7 % 3 }}", "-1", "modulus keeps the sign"),
    ("{{ 10 / 4.0 }}", "2.5", "float division"),
    ("{{ 2 + 3 * 4 }}", "14", "precedence"),
    ("{{ 'a' + 1 }}", "a1", "+ concatenates strings"),
    ("{{ 'a' ~ 1 ~ true ~ null }}", "a1true", "~ concatenation"),
    ("{{ 'm=' ~ inputs.map }}", "m={a=1, b=x}", "~ uses Java toString"),
    ("{{ 1..3 }}", "[1,2,3]", "range operator"),
    ("{{ not inputs.flag }}", "false", "not"),
    ("{{ inputs.flag and inputs.n > 1 }}", "true", "and"),
    ("{{ false or inputs.none }}", "false", "or returns a boolean"),
    ("{{ inputs.n >= 5 and inputs.n <= 5 and inputs.n != 4 }}", "true", "comparisons"),
    ("{{ not true == false }}", "true", "not binds tighter than == (Pebble)"),
    ("{{ -2 | abs }}", "2", "unary minus binds tighter than |"),
    ("{{ inputs.list | length > 2 }}", "true", "| binds tighter than >"),
    ("{{ inputs.list[9] ?? 'oob' }}", "oob", "index out of range is undefined"),
    ("{{ 1.5 * 2 }}", "3.0", "float product prints Java-style"),
    # -- tests --------------------------------------------------------------------------------------
    ("{{ inputs.name is defined }}", "true", "is defined"),
    ("{{ inputs.missing is defined }}", "false", "is defined on undefined"),
    ("{{ inputs.missing is not defined }}", "true", "is not defined"),
    ("{{ inputs.none is null }}", "true", "is null"),
    ("{{ inputs.name is not null }}", "true", "is not null"),
    ("{{ inputs.empty is empty }}", "true", "is empty"),
    ("{{ inputs.list is empty }}", "false", "is empty list"),
    ("{{ inputs.json is json }}", "true", "is json"),
    ("{{ inputs.name is json }}", "false", "is json false"),
    ("{{ inputs.n is odd }}", "true", "is odd"),
    ("{{ inputs.n is even }}", "false", "is even"),
    ("{{ inputs.list is iterable }}", "true", "is iterable"),
    ("{{ inputs.map is map }}", "true", "is map"),
    # -- tags --------------------------------------------------------------------------------------------
    ("{% if inputs.n > 10 %}a{% elseif inputs.n > 3 %}b{% else %}c{% endif %}", "b", "elseif"),
    ("{% for x in inputs.list %}{{ loop.index }}{% endfor %}", "012", "loop.index 0-based"),
    ("{% for x in inputs.list %}{{ loop.revindex }}{% endfor %}", "210", "loop.revindex 0-based"),
    ("{% for x in inputs.list %}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
     "truefalse3,falsefalse3,falsetrue3,", "loop flags"),
    ("{% for e in inputs.map %}{{ e.key }}={{ e.value }};{% endfor %}", "a=1;b=x;", "map entries"),
    ("{% for x in inputs.none %}x{% else %}empty{% endfor %}", "empty", "for over null"),
    ("{% for i in range(1, 5, 2) %}{{ i }}{% endfor %}", "135", "range with step"),
    ("{% set x = inputs.n * 2 %}{{ x }}", "10", "set"),
    ("{% macro hi(who='you') %}hi {{ who }}{% endmacro %}{{ hi() }}/{{ hi('me') }}", "hi you/hi me", "macro"),
    ("{% filter upper %}abc{% endfilter %}", "ABC", "filter tag"),
    ("{% block b %}B{{ inputs.n }}{% endblock %}", "B5", "block renders in place"),
    ("{% if inputs.empty %}t{% else %}f{% endif %}", "f", "empty string is false"),
    ("{% if 'false' %}t{% else %}f{% endif %}", "f", "'false' is false"),
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("template", "expected", "case"), CASES, ids=[c[2] for c in CASES])
def test_render(renderer: Renderer, template: str, expected: str, case: str) -> None:
    assert renderer.render(template, CTX) == expected


TYPED: list[tuple[str, Any]] = [
    ("{{ inputs.map }}", {"a": 1, "b": "x"}),
    ("{{ inputs.list }}", [3, 1, 2]),
    ("{{ inputs.n + 1 }}", 6),
    ("{{ inputs.flag }}", True),
    ("{{ inputs.none }}", None),
    ("  {{ inputs.n }}\n", 5),
    ("n={{ inputs.n }}", "n=5"),
    ("{{ inputs.n }}{{ inputs.n }}", "55"),
    ("plain", "plain"),
    ("{{ inputs.missing ?? [1] }}", [1]),
]


@pytest.mark.parametrize(("template", "expected"), TYPED)
def test_render_typed(renderer: Renderer, template: str, expected: Any) -> None:
    assert renderer.render_typed(template, CTX) == expected


def test_render_value_renders_nested_strings_and_keys(renderer: Renderer) -> None:
    value = {"{{ inputs.name }}": ["{{ inputs.n }}", 7, {"k": "{{ inputs.list }}"}], "n": None}
    assert renderer.render_value(value, CTX) == {"world": ["5", 7, {"k": "[3,1,2]"}], "n": None}
    assert renderer.render_value(value, CTX, typed=True) == {"world": [5, 7, {"k": [3, 1, 2]}], "n": None}


def test_context_values_are_data_not_templates(renderer: Renderer) -> None:
    ctx = {"inputs": {"evil": "{{ inputs.secret }}", "secret": "s3"}}
    assert renderer.render("{{ inputs.evil }}", ctx) == "{{ inputs.secret }}"
    assert renderer.render("{{ render(inputs.evil) }}", ctx) == "s3"


@pytest.mark.parametrize(("text", "expected"), [
    ("a {{ b }}", True), ("{% if %}", True), ("{# c #}", True), ("{ a }", False), ("", False)])
def test_is_template(text: str, expected: bool) -> None:
    assert is_template(text) is expected


def test_cache_is_bounded_per_renderer() -> None:
    small = Renderer(cache_size=2)
    for i in range(5):
        assert small.render(f"{{{{ {i} }}}}", {}) == str(i)
    assert len(small._cache) == 2
    assert Renderer()._cache == {}
