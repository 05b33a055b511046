"""Hypothesis strategies that damage flow sources the way a careless user or an attacker would.

Text mutations work on the YAML as written (delete, duplicate or indent a line, insert control
characters, YAML punctuation, huge numbers, deep nesting, anchors, aliases and alias bombs, cut the
text short). Tree mutations work on the parsed mapping (delete or duplicate a key, swap a value's
type, plant a huge number, a deep list or an odd string) and write it back as YAML.
"""
from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

from engine import safe_yaml
from tests.fuzz.support import corpus

CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85, 0xFFFE]]
PUNCTUATION = list(":-[]{},&*!|>'\"%@`#?\t ") + ["\n", "\r\n", "{{", "}}", "{%", "<<: *a", "---", "..."]
TYPES = ["io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.flow.Parallel", "io.kestra.plugin.core.flow.If",
         "io.kestra.plugin.core.flow.ForEach", "io.kestra.plugin.core.flow.Subflow",
         "io.kestra.plugin.core.flow.Dag", "io.kestra.plugin.core.trigger.Schedule", "STRING", "INT", "ARRAY",
         "io.kestra.plugin.core.flow.WorkingDirectory", "io.kestra.plugin.core.flow.Switch", "nope.Nope", ""]


def huge_number(draw: st.DrawFn) -> str:
    digits = draw(st.sampled_from([19, 20, 309, 400, 1001, 4300, 4301, 6000]))
    sign = draw(st.sampled_from(["", "-", "+"]))
    tail = draw(st.sampled_from(["", ".5", "e999", "e-999", "0x1F"]))
    return sign + "9" * digits + tail


def deep(draw: st.DrawFn) -> str:
    levels = draw(st.sampled_from([150, 199, 200, 201, 1000, 1001, 10_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("[{x: ", "}]")]))
    return opener * levels + "1" + closer * levels * draw(st.sampled_from([1, 0]))


def bomb(draw: st.DrawFn) -> str:
    width = draw(st.integers(2, 12))
    levels = draw(st.integers(2, 10))
    lines = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@st.composite
def text_mutation(draw: st.DrawFn, source: str) -> str:
    """``source`` with one damage done to its text."""
    lines = source.split("\n")
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    where = draw(st.integers(0, len(source)))
    kind = draw(st.sampled_from(["delete", "duplicate", "indent", "control", "punctuation", "number", "deep",
                                 "anchor", "bomb", "truncate", "swap", "recursive"]))
    if kind == "delete":
        return "\n".join(lines[:at] + lines[at + 1:])
    if kind == "duplicate":
        return "\n".join(lines[:at + 1] + lines[at:])
    if kind == "indent":
        shift = draw(st.sampled_from([-4, -2, -1, 1, 2, 3]))
        lines[at] = " " * shift + lines[at] if shift > 0 else lines[at][-shift:]
        return "\n".join(lines)
    if kind in ("control", "punctuation"):
        piece = draw(st.sampled_from(CONTROL if kind == "control" else PUNCTUATION))
        return source[:where] + piece + source[where:]
    if kind == "number":
        return _replace_value(lines, at, huge_number(draw))
    if kind == "deep":
        return _replace_value(lines, at, deep(draw))
    if kind == "anchor":
        first, second = sorted(draw(st.lists(st.integers(0, max(len(lines) - 1, 0)), min_size=2, max_size=2)))
        lines = _with_value(lines, first, lambda value: f"&a {value}")
        return _replace_value(lines, second, "*a")
    if kind == "recursive":
        return _replace_value(lines, at, "&r [1, *r]")
    if kind == "bomb":
        return bomb(draw) + source if draw(st.booleans()) else source + "\n" + bomb(draw)
    if kind == "truncate":
        return source[:where]
    other = draw(st.integers(0, max(len(lines) - 1, 0)))
    lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


def _with_value(lines: list[str], at: int, change: Any) -> list[str]:
    lines = list(lines)
    if at < len(lines) and ": " in lines[at]:
        key, _, value = lines[at].partition(": ")
        lines[at] = f"{key}: {change(value)}"
    return lines


def _replace_value(lines: list[str], at: int, value: str) -> str:
    return "\n".join(_with_value(lines, at, lambda _: value))


ODD_STRINGS = st.one_of(st.text(max_size=40), st.sampled_from([
    "{{ inputs.x }}", "{{", "}}", "{% for x in range(0, 3) %}{{ x }}{% endfor %}", "PT1H", "P-1D", "PT",
    "0 0 * * *", "99 99 99 99 99", "@reboot", "Europe/Nowhere", "../../etc/passwd", "kestra:///x/y",
    "P99999999999999999999D", "PT1e400S", "9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+01:00",
    "a" * 10_000, "\u0000", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "é" * 5]))
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), ODD_STRINGS, st.sampled_from(TYPES),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, 10**300, 10**1000, float("inf"), float("nan")]),
    st.recursive(st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=5)),
                 lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children,
                                                                                   max_size=3), max_leaves=8))


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@st.composite
def tree_mutation(draw: st.DrawFn, source: str) -> str:
    """``source`` parsed, damaged at one place of its tree, written back as YAML."""
    try:
        tree = safe_yaml.load(source)
    except yaml.YAMLError:
        return source
    tree = copy.deepcopy(tree)
    parent, key = _pick(draw, tree)
    if parent is None:
        return source
    kind = draw(st.sampled_from(["delete", "swap", "swap", "deep", "copy", "rename"]))
    if kind == "delete":
        del parent[key]
    elif kind == "swap":
        parent[key] = draw(VALUES)
    elif kind == "deep":
        parent[key] = _nested(draw(st.sampled_from([150, 201, 400])))
    elif kind == "copy" and isinstance(parent, dict):
        parent[draw(ODD_STRINGS)] = copy.deepcopy(parent[key])
    elif kind == "rename" and isinstance(parent, dict):
        parent[draw(st.one_of(ODD_STRINGS, st.integers(), st.none()))] = parent.pop(key)
    try:
        return yaml.safe_dump(tree, allow_unicode=draw(st.booleans()), sort_keys=False, width=10**6)
    except (yaml.YAMLError, RecursionError, ValueError):
        return source


def _pick(draw: st.DrawFn, tree: Any) -> tuple[Any, Any]:
    """A container of ``tree`` and one of its keys (or indexes), reached by a random walk."""
    parent: Any = None
    key: Any = None
    node = tree
    for _ in range(draw(st.integers(1, 8))):
        if isinstance(node, dict) and node:
            parent, key = node, draw(st.sampled_from(list(node)))
        elif isinstance(node, list) and node:
            parent, key = node, draw(st.integers(0, len(node) - 1))
        else:
            break
        node = parent[key]
    return parent, key


@st.composite
def mutated_flow(draw: st.DrawFn) -> str:
    """A seed flow with one to three damages, to its text or to its tree."""
    source = draw(st.sampled_from(corpus()))
    for _ in range(draw(st.integers(1, 3))):
        source = draw(text_mutation(source) if draw(st.booleans()) else tree_mutation(source))
    return source
