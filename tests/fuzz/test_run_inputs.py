"""Run inputs through input parsing: every value is typed or refused with an InputError.

Input declarations are drawn with their validation properties (some invalid: the flow is then
refused with a pydantic ValidationError, the known class at validation), values with what a form,
the CLI, an API body or a trigger could send: control characters, numbers Python cannot hold,
NaN and infinities, deeply nested lists, JSON and YAML texts that are bombs or too deep.
"""
from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.inputs import InputError, resolve_inputs
from engine.model.flow import Flow
from engine.model.inputs import INPUT_TYPES
from engine.plugins.registry import default_registry
from engine.templating import Renderer
from tests.fuzz.mutations import ODD_STRINGS
from tests.fuzz.support import bounded, fuzz_settings

REGISTRY = default_registry()
RENDERER = Renderer()


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


JSON_TEXTS = st.sampled_from([
    "[" * 100_000, "[" * 201 + "]" * 201, '{"a": ' + "9" * 5000 + "}", "[NaN, Infinity]", "[1e999]", "{bad",
    '{"a": [1, {"b": null}]}', '"\\ud800"', "\x00", "", "  ", "[1,2,]"])
YAML_TEXTS = st.sampled_from([
    "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                                                  for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    "- " * 100_000 + "x", "a: &a [1, *a]", "x: !!python/object:os.system ls", "x: !!int abc", "n: " + "1" * 5000,
    "a: 'x\x01'", "{{ inputs.x }}", "a: 2024-01-31\nb: yes", ": :", "[", "--- a\n--- b\n"])
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), ODD_STRINGS, JSON_TEXTS, YAML_TEXTS,
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63, 10**5000, float("inf"), float("nan"),
                     "9" * 5000, "-" + "9" * 20, "1e400", "0x10", " 42 ", "P" + "9" * 30 + "D", "PT-1S",
                     "9999-12-31T23:59:59Z", "0000-01-01", "24:61", "x@", "mailto:", "http://[::1", "kestra:///a",
                     nested(5000), nested(150), {"a": nested(300)}, [None, [], {}], "aaaa" * 10_000]),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=4))
BOUNDS = st.one_of(st.none(), st.integers(), st.sampled_from([2**31, 10**40, "PT1H", "P-1D", "2024-01-01", "x"]))
PROPERTIES: dict[str, st.SearchStrategy[Any]] = {
    "min": BOUNDS, "max": BOUNDS, "after": BOUNDS, "before": BOUNDS, "defaults": VALUES, "required": st.booleans(),
    "validator": st.sampled_from(["^[a-z]+$", "\\d{3}", ".*", "(", "[", "x{2,3}"]),
    "values": st.lists(st.text(max_size=4), max_size=3), "itemType": st.sampled_from([*INPUT_TYPES, "NOPE"]),
    "allowCustomValue": st.booleans(), "expression": st.sampled_from(["{{ ['a', 'b'] }}", "{{ nope }}", "a,b"]),
}


@st.composite
def declaration(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": "x", "type": draw(st.sampled_from(list(INPUT_TYPES)))}
    for name in draw(st.lists(st.sampled_from(list(PROPERTIES)), max_size=3, unique=True)):
        spec[name] = draw(PROPERTIES[name])
    return spec


def flow_of(spec: dict[str, Any]) -> Flow | None:
    data = {"id": "f", "namespace": "company.team", "inputs": [spec],
            "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "x"}]}
    try:
        return Flow.model_validate(data, context={"registry": REGISTRY})
    except ValidationError as err:
        assert err.errors()
        return None


@fuzz_settings(200)
@given(declaration(), VALUES)
def test_a_run_input_is_typed_or_refused_with_an_input_error(spec: dict[str, Any], value: Any) -> None:
    with bounded():
        flow = flow_of(spec)
        if flow is None:
            return
        try:
            resolved = resolve_inputs(flow, {"x": value}, render=RENDERER.render_typed,
                                      store_file=lambda input_id, path, declared: f"kestra:///company/team/f/{input_id}")
        except InputError as err:
            assert err.problems and all(problem and "\n" not in problem for problem in err.problems), err.problems
            assert all(len(problem) < 2000 for problem in err.problems)
        else:
            assert set(resolved) <= {"x"}
