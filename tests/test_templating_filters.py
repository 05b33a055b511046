"""Every Pebble and Kestra filter, with Pebble semantics where they differ from Jinja2."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from engine.templating import ExpressionError, Renderer

CTX: dict[str, Any] = {
    "s": "hello world", "list": [3, 1, 2, 1], "map": {"b": 2, "a": 1}, "n": -4, "none": None,
    "nested": [[1, 2], [3], 4], "obj": {"a": [{"b": 1}, {"b": 2}]}, "text": "a\nb\nc",
}

FILTERS: list[tuple[str, str]] = [
    # Pebble built-ins
    ("{{ s | abbreviate(8) }}", "hello..."),
    ("{{ 'short' | abbreviate(8) }}", "short"),
    ("{{ n | abs }}", "4"),
    ("{{ 'aGk=' | base64decode }}", "hi"),
    ("{{ 'hi' | base64encode }}", "aGk="),
    ("{{ 'hello WORLD' | capitalize }}", "Hello WORLD"),
    ("{{ 'hello wORLD' | title }}", "Hello WORLD"),
    ("{{ none | default('d') }}", "d"),
    ("{{ '' | default('d') }}", "d"),
    ("{{ missing.x | default('d') }}", "d"),
    ("{{ [] | default('d') }}", "d"),
    ("{{ 0 | default('d') }}", "0"),
    ("{{ list | first }}", "3"),
    ("{{ list | last }}", "1"),
    ("{{ s | first }}", "h"),
    ("{{ s | last }}", "d"),
    ("{{ list | join(',') }}", "3,1,2,1"),
    ("{{ list | join }}", "3121"),
    ("{{ list | length }}", "4"),
    ("{{ s | length }}", "11"),
    ("{{ map | length }}", "2"),
    ("{{ none | length }}", "0"),
    ("{{ 'AbC' | lower }}", "abc"),
    ("{{ 'AbC' | upper }}", "ABC"),
    ("{{ map | merge({'c': 3}) }}", '{"b":2,"a":1,"c":3}'),
    ("{{ [1] | merge([2, 3]) }}", "[1,2,3]"),
    ("{{ list | reverse }}", "[1,2,1,3]"),
    ("{{ 'abc' | reverse }}", "cba"),
    ("{{ list | sort }}", "[1,1,2,3]"),
    ("{{ list | rsort }}", "[3,2,1,1]"),
    ("{{ 'abc' | sha256 }}", hashlib.sha256(b"abc").hexdigest()),
    ("{{ s | slice(0, 5) }}", "hello"),
    ("{{ s | slice(6) }}", "world"),
    ("{{ list | slice(1, 3) }}", "[1,2]"),
    ("{{ 'a1b22c' | split('\\d+') }}", '["a","b","c"]'),
    ("{{ 'a,b,,' | split(',') }}", '["a","b"]'),
    ("{{ 'a,b,c' | split(',', 2) }}", '["a","b,c"]'),
    ("{{ 'a.b' | split('.') }}", "[]"),
    ("{{ 'a.b' | split('\\.') }}", '["a","b"]'),
    ("{{ '  x  ' | trim }}", "x"),
    ("{{ 'a b&c~' | urlencode }}", "a+b%26c%7E"),
    # Kestra
    ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", "[[1,2],[3,4],[5]]"),
    ("{{ 'x' | className }}", "java.lang.String"),
    ("{{ 1 | className }}", "java.lang.Integer"),
    ("{{ 1.5 | className }}", "java.lang.Double"),
    ("{{ map | className }}", "java.util.LinkedHashMap"),
    ("{{ \"it's\" | escapeChar('single') }}", "it\\'s"),
    ("{{ 'say \"hi\"' | escapeChar('double') }}", 'say \\"hi\\"'),
    ("{{ \"it's\" | escapeChar('shell') }}", "it'\\''s"),
    ("{{ nested | flatten }}", "[1,2,3,4]"),
    ("{{ text | indent(2) }}", "a\n  b\n  c"),
    ("{{ text | indent(1, '\t') }}", "a\n\tb\n\tc"),
    ("{{ text | nindent(2) }}", "\n  a\n  b\n  c"),
    ("{{ map | json }}", '{"b":2,"a":1}'),
    ("{{ map | toJson }}", '{"b":2,"a":1}'),
    ("{{ none | toJson }}", "null"),
    ("{{ 'x' | toJson }}", '"x"'),
    ("{{ {'a': 1.5, 'b': [true, null, 's']} | toIon }}", '{a:1.5e0,b:[true,null,"s"]}'),
    ("{{ obj | jq('.a[].b') }}", "[1,2]"),
    ("{{ obj | jq('.a[0].b') | first }}", "1"),
    ("{{ '{\"k\": 5}' | jq('.k') }}", "[5]"),
    ("{{ map | keys }}", '["b","a"]'),
    ("{{ list | keys }}", "[0,1,2,3]"),
    ("{{ map | values }}", "[2,1]"),
    ("{{ '12' | number + 1 }}", "13"),
    ("{{ '1.5' | number }}", "1.5"),
    ("{{ '12' | number('FLOAT') }}", "12.0"),
    ("{{ '0x1F' | number }}", "31"),
    ("{{ '12' | number | className }}", "java.lang.Integer"),
    ("{{ 3.14159 | numberFormat('#.##') }}", "3.14"),
    ("{{ 3.1 | numberFormat('0.00') }}", "3.10"),
    ("{{ 1234567.891 | numberFormat('#,##0.0') }}", "1,234,567.9"),
    ("{{ 0.25 | numberFormat('0%') }}", "25%"),
    ("{{ 2.5 | numberFormat('#') }}", "2"),
    ("{{ {'a': 'foo', 'l': ['foo']} | replace({'foo': 'bar'}) }}", '{"a":"bar","l":["bar"]}'),
    ("{{ 'a1b2' | replace({'(\\d)': '<$1>'}, regexp=true) }}", "a<1>b<2>"),
    ("{{ 'Héllo World_foo--bar' | slugify }}", "hello-world-foo-bar"),
    ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
    ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
    ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
    ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
    ("{{ 'abc' | substringAfter('z') }}", ""),
    ("{{ 'abc' | substringBefore('z') }}", "abc"),
    ("{{ s | startsWith('hell') }}", "true"),
    ("{{ s | endsWith('hell') }}", "false"),
    ("{{ 'a+b%20c' | urldecode }}", "a b c"),
    ("{{ 'abc' | md5 }}", hashlib.md5(b"abc").hexdigest()),
    ("{{ 'abc' | sha1 }}", hashlib.sha1(b"abc").hexdigest()),
    ("{{ 'abc' | sha512 }}", hashlib.sha512(b"abc").hexdigest()),
    ("{{ list | distinct }}", "[3,1,2]"),
    ("{{ 1.0 | string }}", "1.0"),
    ("{{ map | string }}", '{"b":2,"a":1}'),
    ("{{ map | yaml }}", "b: 2\na: 1\n"),
    ("{{ 'a' | upper | lower | upper }}", "A"),
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("template", "expected"), FILTERS, ids=[t for t, _ in FILTERS])
def test_filter(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CTX) == expected


def test_jq_returns_native_values_when_typed(renderer: Renderer) -> None:
    assert renderer.render_typed("{{ obj | jq('.a') | first }}", CTX) == [{"b": 1}, {"b": 2}]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ s | slice(3, 99) }}", "out of range"),
    ("{{ 'x' | number }}", "`x` is not a number"),
    ("{{ obj | jq('.[') }}", "jq expression `.[` failed"),
    ("{{ 'x' | escapeChar('weird') }}", "single, double or shell"),
    ("{{ 'x' | base64decode }}", "not valid base64"),
    ("{{ s | nofilter }}", "Unknown filter `nofilter`"),
    ("{{ missing | upper }}", "Unable to find `missing`"),
    ("{{ s | split('(') }}", "Invalid regular expression"),
])
def test_filter_errors_are_clear(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=".*") as caught:
        renderer.render(template, CTX)
    assert message in str(caught.value)
    assert template in str(caught.value)
