"""Strict undefined messages, syntax errors, removed tags, the sandbox, and real Kestra flows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.templating import ExpressionError, Renderer, is_template

CTX: dict[str, Any] = {"inputs": {"a": 1, "m": {"k": None}}, "outputs": {"t": {"value": "v"}}}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("template", "message"), [
    ("{{inputs.invalid}}", "Unable to find `inputs.invalid` used in the expression `{{inputs.invalid}}`"),
    ("{{ missingVar }}", "Unable to find `missingVar` used in the expression `{{ missingVar }}`"),
    ("{{ outputs.nope.value }}", "Unable to find `outputs.nope` used in the expression"),
    ("{{ outputs['t'].nope }}", "Unable to find `outputs.t.nope`"),
    ("x {{ inputs.a }} {{ inputs.b ~ 'x' }}",
     "Unable to find `inputs.b` used in the expression `{{ inputs.b ~ 'x' }}`"),
    ("{% if inputs.zzz %}y{% endif %}", "Unable to find `inputs.zzz`"),
    ("{% for x in inputs.list %}{% endfor %}", "Unable to find `inputs.list`"),
    ("{{ inputs.nope is null }}", "Unable to find `inputs.nope`"),
    ("{{ inputs.nope + 1 }}", "Unable to find `inputs.nope`"),
    ("{{ inputs.nope == 1 }}", "Unable to find `inputs.nope`"),
])
def test_strict_undefined(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render(template, CTX)
    assert message in str(caught.value)


def test_strict_undefined_in_typed_rendering(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="Unable to find `inputs.x`"):
        renderer.render_typed("{{ inputs.x }}", CTX)


@pytest.mark.parametrize(("template", "message"), [
    ("{{ inputs.a + }}", "Unexpected the end of the expression"),
    ("{{ 1 2 }}", "Unexpected `2` after a complete expression"),
    ("{{ }}", "Empty expression"),
    ("{{ inputs.a", "Unclosed `{{`"),
    ("{% if true %}", "Syntax error"),
    ("{# open", "Unclosed comment"),
    ("{{ 'open }}", "Unclosed string literal"),
    ("{{ a ? b }}", "Expected `:`"),
    ("{{ x | }}", "Expected a filter name"),
    ("{{ x is }}", "Expected a test name"),
    ("{{ f(a=1, 2) }}", "positional argument cannot follow"),
    ("{{ x @ y }}", "Unexpected character `@`"),
    ("{{ foo( }}", "Unclosed `(`"),
    ("{{ [1, 2 }}", "Unclosed `[`"),
    ("{% raw %}never closed", "Unclosed `{% raw %}`"),
    ("{% for x of y %}{% endfor %}", "Expected `in`"),
    ("{% nosuchtag %}", "Unknown tag `{% nosuchtag %}`"),
    ("{% with a = 1 %}{% endwith %}", "Unknown tag `{% with %}`"),
    ("{{ x is nosuchtest }}", "Unknown test `nosuchtest`"),
])
def test_syntax_errors_say_what_and_where(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render(template, CTX)
    assert message in str(caught.value)
    assert "`" + template[:10] in str(caught.value)


def test_syntax_error_reports_line_and_column(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render("line one\nline two {{ inputs.a ++ }}", CTX)
    assert (caught.value.line, caught.value.column) == (2, 25)
    assert "(line 2, column 25)" in str(caught.value)


@pytest.mark.parametrize("tag", ["include", "import", "extends", "from", "embed", "autoescape",
                                 "flush", "parallel", "cache"])
def test_removed_tags_are_refused(renderer: Renderer, tag: str) -> None:
    with pytest.raises(ExpressionError, match=f"tag `{{% {tag} %}}` is not supported"):
        renderer.render(f"{{% {tag} 'x' %}}", CTX)


@pytest.mark.parametrize(("template", "message"), [
    ("{{ ''.__class__.__mro__ }}", "Access to `__class__` is not allowed in expressions"),
    ("{{ cycler.__init__.__globals__ }}", "Access to `__init__` is not allowed"),
    ("{{ self.__init__ }}", "Access to `__init__` is not allowed"),
    ("{{ lipsum.__globals__ }}", "Access to `__globals__` is not allowed"),
    ("{{ inputs['__class__'] }}", "Access to `__class__` is not allowed"),
    ("{{ ''['__cla' ~ 'ss__'] }}", "is not allowed in expressions"),
    ("{{ (1).real.__class__ }}", "is not allowed"),
    ("{{ range.__call__ }}", "is not allowed"),
    ("{{ ''.mro }}", "is not allowed"),
])
def test_sandbox_escapes_fail_clearly(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render(template, CTX)
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["cycler", "joiner", "lipsum", "namespace", "dict"])
def test_jinja_default_globals_are_gone(renderer: Renderer, name: str) -> None:
    with pytest.raises(ExpressionError, match=f"Unknown function `{name}\\(\\)`|Unable to find `{name}`"):
        renderer.render(f"{{{{ {name}() }}}}", CTX)
    assert renderer.render(f"{{{{ {name} is defined }}}}", CTX) == "false"


def test_lists_expose_no_methods(renderer: Renderer) -> None:
    ctx = {"l": [1]}
    with pytest.raises(ExpressionError, match="Unable to find `l.append`"):
        renderer.render("{{ l.append(2) }}", ctx)
    assert ctx["l"] == [1]


def test_immutable_sandbox_refuses_mutating_methods(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="not safely callable|unsafe|not allowed"):
        renderer.render("{{ s.clear() }}", {"s": {1, 2}})


def test_runtime_errors_never_leak_tracebacks(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="Division by zero"):
        renderer.render("{{ 1 / 0 }}", CTX)
    with pytest.raises(ExpressionError, match="Could not perform subtraction"):
        renderer.render("{{ 'a' - 1 }}", CTX)
    with pytest.raises(ExpressionError, match="Cannot compare"):
        renderer.render("{{ 'a' < 1 }}", CTX)


# -- every expression found in Kestra's own test flows must at least compile ---------------------
FLOWS = Path("/work/shared/conformance/kestra-core/flows")


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if is_template(node) else []
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(k) + _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _flow_expressions() -> list[str]:
    found: set[str] = set()
    for path in sorted(FLOWS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found.update(_strings(document))
    return sorted(found)


# Kestra's own test of a failing flow: a `{% %}` tag nested inside `{{ }}` is invalid in Pebble too.
KNOWN_INVALID = {"{{parents[0].taskrun.value == 'CUMULATIVE' and {% for entry in json(taskrun.value) %}"
                 "{{ entry.key }}{% endfor %}== 'NEW_MONTH'}}"}


@pytest.mark.skipif(not FLOWS.exists(), reason="conformance flows not available")
def test_kestra_flow_expressions_compile() -> None:
    renderer = Renderer()
    expressions = _flow_expressions()
    assert len(expressions) > 50
    failures = {}
    for text in expressions:
        try:
            renderer._compile(text)
        except ExpressionError as error:
            failures[text] = str(error)
    assert set(failures) == KNOWN_INVALID
