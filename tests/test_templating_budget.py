"""Expressions run under a time and size budget, and jq sees nothing of the process (issue 15).

Every bound below is generous (it catches a hang, it does not measure speed): the budget is 1 s,
an expression that ignored it would run for minutes or forever.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.settings import load_settings
from engine.templating import ExpressionError, ExpressionLimits, JqProcesses, Renderer

HANG = 60.0  # seconds; far above every budget used here
CATASTROPHIC = "'" + "a" * 40 + "!'"


@pytest.fixture(scope="module")
def jq() -> Iterator[JqProcesses]:
    processes = JqProcesses(256)
    yield processes
    processes.close()


@pytest.fixture
def renderer(jq: JqProcesses) -> Renderer:
    return Renderer(limits=ExpressionLimits(timeout_seconds=1.0), jq=jq)


def _fails(renderer: Renderer, template: str, *fragments: str) -> str:
    started = time.monotonic()
    with pytest.raises(ExpressionError) as error:
        renderer.render(template, {})
    assert time.monotonic() - started < HANG
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


# -- jq sees only its input -----------------------------------------------------------------
@pytest.mark.parametrize("program", ["$ENV", "env", "[$ENV[]]", "env | keys"])
def test_jq_sees_an_empty_environment(renderer: Renderer, monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "c2VjcmV0LXZhbHVl")
    monkeypatch.setenv("PODIUM_ENCRYPTION_KEY", "the-encryption-key")
    fresh = Renderer(jq=JqProcesses(256))  # its helper starts now, with the variables above set
    for current in (renderer, fresh):
        text = current.render("{{ {} | jq('" + program + "') }}", {})
        assert "c2VjcmV0LXZhbHVl" not in text and "the-encryption-key" not in text
        assert text in ("[{}]", "[[]]")


@pytest.mark.parametrize("program", [
    'import "secret" as $d {search: "DIR"}; $d',
    'import "secret" as $d; $d',
    'include "module" {search: "DIR"}; 1',
    '"secret" | modulemeta',
    'get_search_list',
    '"a\\(import "x" as $d; 1)"',
])
def test_jq_cannot_reach_module_files(renderer: Renderer, tmp_path: Path, program: str) -> None:
    (tmp_path / "secret.json").write_text('{"password": "hunter2"}')
    (tmp_path / "module.jq").write_text('def leak: "hunter2";')
    template = "{{ {} | jq('" + program.replace("DIR", str(tmp_path)).replace("'", "\\'") + "') }}"
    message = _fails(renderer, template, "is not allowed in expressions")
    assert "hunter2" not in message


def test_jq_keeps_field_names_that_are_jq_keywords(renderer: Renderer) -> None:
    assert renderer.render("{{ {'import': 1, 'include': 2} | jq('.import + .include') }}", {}) == "[3]"
    assert renderer.render("{{ {} | jq('\"import # include\" | length') }}", {}) == "[16]"


def test_jq_debug_and_stderr_write_nowhere_and_paths_are_hidden(renderer: Renderer,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    assert renderer.render("{{ 'x' | jq('debug | stderr | input_filename') }}", {}) == "[null]"
    captured = capfd.readouterr()
    assert "x" not in captured.err and "DEBUG" not in captured.err


@pytest.mark.parametrize("program", ["[repeat(1)]", "def f: f; f", "[range(0; 1e12)] | length", "last(range(1e15))"])
def test_a_jq_loop_fails_within_the_budget_and_the_next_call_works(renderer: Renderer, program: str) -> None:
    _fails(renderer, "{{ [] | jq('" + program + "') }}", "time budget of 1 s", "expressions.timeout_seconds",
           program)
    assert renderer.render("{{ {'a': 2} | jq('.a') }}", {}) == "[2]"


def test_a_jq_program_over_its_memory_fails_clearly() -> None:
    renderer = Renderer(limits=ExpressionLimits(timeout_seconds=30, jq_memory_mb=128))
    _fails(renderer, "{{ 1 | jq('\"x\" * 400000000 | length') }}", "ran out of memory", "128 MB",
           "expressions.jq_memory_mb")
    assert renderer.render("{{ 1 | jq('. + 1') }}", {}) == "[2]"


def test_other_threads_keep_running_while_jq_loops(renderer: Renderer) -> None:
    ticks = _ticks_during(lambda: _fails(renderer, "{{ [] | jq('def f: f; f') }}", "time budget"))
    assert ticks >= 5


# -- regular expressions --------------------------------------------------------------------
@pytest.mark.parametrize("template", [
    "{{ " + CATASTROPHIC + " | split('(a|aa)+$') }}",
    "{{ " + CATASTROPHIC + " | replace({'(a|aa)+$': 'b'}, regexp=true) }}",
    "{{ {'k': [" + CATASTROPHIC + "]} | replace({'(a|aa)+$': 'b'}, regexp=true) }}",
])
def test_a_catastrophic_regex_fails_within_the_budget(renderer: Renderer, template: str) -> None:
    _fails(renderer, template, "time budget of 1 s", "in the expression `{{")


def test_other_threads_keep_running_while_a_regex_backtracks(renderer: Renderer) -> None:
    ticks = _ticks_during(lambda: _fails(renderer, "{{ " + CATASTROPHIC + " | split('(a|aa)+$') }}", "budget"))
    assert ticks >= 5


def test_a_regex_that_expands_to_millions_of_nodes_is_refused_before_compiling(renderer: Renderer) -> None:
    _fails(renderer, "{{ 'x' | split('((a{1000}){1000}){1000}') }}", "Regular expression too large")
    _fails(renderer, "{{ 'x' | replace({'(?:[ab]{500}){500}': ''}, regexp=true) }}", "Regular expression too large")


def test_java_regex_features_work(renderer: Renderer) -> None:
    assert renderer.render("{{ 'a1b2c3' | split('(?<=\\d)') }}", {}) == '["a1","b2","c3"]'
    assert renderer.render("{{ 'ab12' | replace({'(?<letters>[a-z]+)(\\d++)': '$2-$1'}, regexp=true) }}",
                           {}) == "12-ab"


# -- loops, sizes and numbers ---------------------------------------------------------------
@pytest.mark.parametrize("template", [
    "{{ range(0, 1000000000) | length }}", "{{ (0..1000000000) | length }}",
    "{% for i in range(1, 1000000000) %}{% endfor %}",
])
def test_a_huge_range_is_refused_before_it_is_built(renderer: Renderer, template: str) -> None:
    _fails(renderer, template, "Too many items: 1,000,000,00", "expressions.max_collection_size")


def test_nested_loops_with_an_empty_body_stop_at_the_budget(renderer: Renderer) -> None:
    _fails(renderer, "{% set x = range(1, 100000) %}{% for a in x %}{% for b in x %}{% for c in x %}"
                     "{% endfor %}{% endfor %}{% endfor %}", "time budget of 1 s")


def test_a_recursive_macro_stops(renderer: Renderer) -> None:
    _fails(renderer, "{% macro f(n) %}{% for i in range(1, 3) %}{{ f(n) }}{% endfor %}{% endmacro %}{{ f(1) }}")


@pytest.mark.parametrize("template", [
    "{{ 'a' | nindent(1000000000) }}", "{{ 'a' ~ 'b' | indent(100000000, 'xxxxxxxx') }}",
    "{{ range(1, 5) | join('" + "x" * 10000 + "') | length }}",
])
def test_text_building_filters_check_the_size_first(jq: JqProcesses, template: str) -> None:
    small = Renderer(limits=ExpressionLimits(timeout_seconds=1, max_text_length=20_000), jq=jq)
    _fails(small, template, "Text too long", "expressions.max_text_length")


def test_doubling_a_string_or_a_list_is_stopped(renderer: Renderer) -> None:
    doubling = "".join("{% set s = s ~ s %}" for _ in range(40))
    _fails(renderer, "{% set s = 'ab' %}" + doubling + "{{ s | length }}", "Text too long")
    doubling = "".join("{% set l = l + l %}" for _ in range(40))
    _fails(renderer, "{% set l = [1, 2] %}" + doubling + "{{ l | length }}", "Too many items")


@pytest.mark.parametrize("writer", ["{{ l }}", "{{ l | json }}", "{{ l | join(',') }}", "{{ 'x' ~ l }}",
                                    "{{ l | jq('length') }}", "{{ l | yaml }}"])
def test_a_value_nesting_itself_is_not_written_out(renderer: Renderer, writer: str) -> None:
    # 2**60 leaves, a few hundred bytes of template: the serialiser (C) would never end.
    nesting = "".join("{% set l = [l, l] %}" for _ in range(60))
    message = _fails(renderer, "{% set l = [1, 2] %}" + nesting + writer)
    assert "too large to write as text" in message or "time budget" in message
    with pytest.raises(ExpressionError):  # a typed value goes on to be stored as JSON
        renderer.render_typed("{{ [l] }}", {"l": _self_nested(60)})


def _self_nested(depth: int) -> list[object]:
    value: list[object] = [1, 2]
    for _ in range(depth):
        value = [value, value]
    return value


def test_the_rendered_text_is_capped(jq: JqProcesses) -> None:
    small = Renderer(limits=ExpressionLimits(timeout_seconds=5, max_text_length=100_000), jq=jq)
    _fails(small, "{% for i in range(1, 100000) %}xxxxxxxxxx{% endfor %}", "Text too long")


def test_huge_integers_are_refused_before_they_are_multiplied(renderer: Renderer) -> None:
    squaring = "".join("{% set a = a * a %}" for _ in range(30))
    _fails(renderer, "{% set a = 99999999999999999999 %}" + squaring + "{{ a }}", "Integer too large")
    _fails(renderer, "{{ '1E999999999' | number('BIGDECIMAL') }}", "exponent")
    _fails(renderer, "{{ 10 ** 10 ** 10 }}", "Unexpected `*`")


def test_a_nested_render_shares_the_outer_budget(renderer: Renderer) -> None:
    context = {"inner": "{{ " + CATASTROPHIC + " | split('(a|aa)+$') }}"}
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="time budget"):
        renderer.render("{{ render(inner) }}{{ render(inner) }}", context)
    assert time.monotonic() - started < HANG


def test_ordinary_expressions_are_unchanged(renderer: Renderer) -> None:
    context = {"items": list(range(5000)), "m": {"a": 1}}
    assert renderer.render("{% for i in items %}{{ i }}{% endfor %}", context).startswith("0123")
    assert renderer.render("{{ items | distinct | length }}", context) == "5000"
    assert renderer.render("{{ [m, m, 1, 1, 'a'] | distinct }}", context) == '[{"a":1},1,"a"]'
    assert renderer.render_typed("{{ range(1, 3) }}", {}) == [1, 2, 3]


def test_the_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_EXPRESSIONS__TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("PODIUM_EXPRESSIONS__MAX_TEXT_LENGTH", "5000")
    settings = load_settings()
    assert settings.expressions.timeout_seconds == 2.5 and settings.expressions.max_text_length == 5000
    assert settings.expressions.max_collection_size == 1_000_000 and settings.expressions.jq_memory_mb == 512


def _ticks_during(work: Callable[[], object]) -> int:
    """How many times a 10 ms ticker thread ran while ``work`` ran on this one."""
    ticks, done = [0], threading.Event()

    def tick() -> None:
        while not done.wait(0.01):
            ticks[0] += 1

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        work()
    finally:
        done.set()
        ticker.join()
    return ticks[0]


def test_the_environment_of_this_process_is_untouched(renderer: Renderer) -> None:
    before = dict(os.environ)
    renderer.render("{{ {} | jq('$ENV') }}", {})
    assert dict(os.environ) == before


def test_a_date_pattern_that_backtracks_stops_at_the_budget(renderer: Renderer) -> None:
    context = {"text": "a" * 3000 + "1"}
    with pytest.raises(ExpressionError, match="time budget of 1 s"):
        renderer.render("{{ text | date('iso', existingFormat='EGEGEGEGEGEGEG') }}", context)


def test_a_date_full_of_brackets_is_refused_at_once(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="is not an ISO date"):
        renderer.render("{{ text | date('iso') }}", {"text": "[" * 200_000})  # quadratic with a regex
    assert renderer.render("{{ '2024-01-02T03:04:05[Europe/Paris]' | date('iso') }}", {}) == \
        "2024-01-02T02:04:05.000000Z"
