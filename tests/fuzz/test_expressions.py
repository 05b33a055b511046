"""Random Pebble-ish templates through the Renderer: each renders or fails with an ExpressionError.

Templates are drawn from a grammar of Kestra's tokens (variables, literals, operators, filters,
functions, tags), so that most of them get past the lexer and reach evaluation. What an expression
may cost (time and memory budgets: huge ranges, string repetition, regular expressions, jq
programs) is the sandbox's to bound; the grammar keeps numbers small next to the operators that
multiply work and leaves jq and regex programs out, so that a budget hang is not reported here.
"""
from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.templating import ExpressionError, Renderer
from tests.fuzz.support import bounded, fuzz_settings

RENDERER = Renderer()
CONTEXT: dict[str, Any] = {
    "inputs": {"a": 1, "s": "text", "l": [1, 2, 3], "m": {"k": "v", "n": None}, "big": 10**30, "f": 1.5},
    "outputs": {"t": {"value": "v", "list": ["x", "y"]}}, "vars": {"v": "{{ inputs.a }}"},
    "flow": {"id": "f", "namespace": "company.team"}, "execution": {"id": "e", "startDate": "2024-01-01T00:00:00Z"},
    "taskrun": {"value": "x"}, "parents": [],
}
NAMES = ["inputs", "inputs.a", "inputs.s", "inputs.l", "inputs.m", "inputs.m.k", "inputs.m.n", "inputs.big",
         "inputs.f", "inputs.nope", "outputs.t.value", "outputs.t.list", "vars.v", "flow.namespace",
         "execution.startDate", "taskrun.value", "parents", "missing", "inputs['a']", "inputs.l[1]", "inputs.l[9]"]
LITERALS = ["0", "1", "-1", "2", "3", "1.5", "1e3", "'a'", "'{{ inputs.a }}'", '"x"', "true", "false", "null",
            "[]", "[1, 'a']", "{}", "{'k': 1}", "'2024-01-31'", "'\\u0000'", "'é'", "99999999999999999999999",
            "1e308", "1e309", "-0.0", "'%s'"]
OPERATORS = ["+", "-", "*", "/", "%", "~", "==", "!=", "<", ">", "<=", ">=", "and", "or", "in", "not in", "??",
             "???", "is", "is not", "..", "?", ":", "|", ","]
FILTERS = ["upper", "lower", "trim", "length", "first", "last", "reverse", "sort", "json", "toJson", "keys",
           "values", "string", "number", "abs", "capitalize", "title", "slugify", "urlencode", "urldecode",
           "base64encode", "base64decode", "md5", "sha256", "distinct", "flatten", "yaml", "toIon", "className",
           "date('yyyy-MM-dd')", "dateAdd(1, 'DAYS')", "default('d')", "join(',')", "slice(0, 2)", "chunk(2)",
           "abbreviate(3)", "indent(2)", "nindent(2)", "numberFormat('#.##')", "startsWith('t')",
           "substringBefore('x')", "escapeChar('json')", "timestamp", "merge({'b': 2})", "split(',')",
           "replace({'a': 'b'})"]
FUNCTIONS = ["now()", "range(0, 3)", "range(3, 0, -1)", "max(1, 2)", "min('a', 1)", "json('{\"a\": 1}')",
             "fromJson('[1]')", "yaml('a: [1]')", "yaml('a: &a [1]\\nb: *a')", "fromIon('{a: 1}')", "id()",
             "uuid()", "randomInt(0, 3)", "render(vars.v)", "renderOnce('{{ 1 }}')", "secret('X')",
             "kv('k')", "read('x')", "fileExists('x')", "printContext()", "currentEachOutput(outputs.t)",
             "errorLogs()", "encrypt('k', 'v')", "range(0, 'a')", "max()"]
TAGS = ["{% if inputs.a %}", "{% else %}", "{% endif %}", "{% for x in inputs.l %}", "{% endfor %}",
        "{% set y = 1 %}", "{% raw %}", "{% endraw %}", "{# c #}", "{% macro m() %}", "{% filter upper %}",
        "{% endfilter %}", "{% block b %}", "{% include 'x' %}", "{% import 'x' as y %}"]
PUNCTUATION = ["(", ")", "[", "]", "{", "}", ".", "'", '"', "{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "\\",
               "\x00", "\x1b", "@", "$", "__class__", "__globals__", "_pb_math", "mro()", "self", "loop.index"]

# Operators whose work grows with their operands' value; next to them, only small numbers.
MULTIPLYING = {"*", ".."}
BIG = {"99999999999999999999999", "1e308", "1e309", "1e3", "inputs.big"}
ATOM = st.one_of(st.sampled_from(NAMES), st.sampled_from(LITERALS), st.sampled_from(FUNCTIONS))
SMALL_ATOM = ATOM.filter(lambda atom: atom not in BIG)


@st.composite
def expression(draw: st.DrawFn) -> str:
    """An expression: atoms joined by operators, filtered, sometimes bracketed."""
    operators = draw(st.lists(st.sampled_from(OPERATORS), max_size=4))
    atoms = SMALL_ATOM if MULTIPLYING & set(operators) else ATOM
    parts = [draw(atoms)]
    for operator in operators:
        parts += [operator, draw(atoms)]
    text = " ".join(parts)
    for _ in range(draw(st.integers(0, 2))):
        text = f"{text} | {draw(st.sampled_from(FILTERS))}"
    return f"({text})" if draw(st.booleans()) else text


@st.composite
def template(draw: st.DrawFn) -> str:
    """A template of text, expressions, tags and stray punctuation."""
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["expression", "expression", "tag", "text", "punctuation"]))
        if kind == "expression":
            pieces.append("{{ " + draw(expression()) + " }}")
        elif kind == "tag":
            pieces.append(draw(st.sampled_from(TAGS)))
        elif kind == "text":
            pieces.append(draw(st.text(max_size=8)))
        else:
            pieces.append(draw(st.sampled_from(PUNCTUATION)))
    return "".join(pieces)


@fuzz_settings(200)
@given(template(), st.booleans())
def test_a_template_renders_or_fails_with_an_expression_error(text: str, typed: bool) -> None:
    with bounded():
        try:
            result = RENDERER.render_typed(text, CONTEXT) if typed else RENDERER.render(text, CONTEXT)
        except ExpressionError as err:
            assert str(err)
        else:
            assert typed or isinstance(result, str)
