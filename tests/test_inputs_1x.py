"""Kestra 1.x inputs at the model level: prefill, autoSelectFirst, allowedFileExtensions, and
expression defaults ordered after the inputs they read."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from engine.inputs import InputError, resolve_inputs
from tests.test_inputs import input_errors, make_flow


def render(template: str, variables: Mapping[str, Any]) -> Any:
    """A stand-in renderer for the two expressions below (the real one is tested elsewhere)."""
    if template == "{{ inputs.env == 'PROD' }}":
        return variables["inputs"]["env"] == "PROD"
    if template == "{{ inputs.region }}-db":
        return f"{variables['inputs']['region']}-db"
    raise AssertionError(template)


def test_a_default_naming_a_later_input_is_rendered_after_it_even_without_depends_on() -> None:
    flow = make_flow([{"id": "host", "type": "STRING", "defaults": "{{ inputs.region }}-db"},
                      {"id": "region", "type": "STRING", "defaults": "eu"}])
    assert resolve_inputs(flow, {}, render=render) == {"host": "eu-db", "region": "eu"}  # declaration order kept


def test_depends_on_orders_the_rendered_default() -> None:
    flow = make_flow([{"id": "notify", "type": "BOOL", "defaults": "{{ inputs.env == 'PROD' }}",
                       "dependsOn": {"inputs": ["env"]}},
                      {"id": "env", "type": "SELECT", "values": ["DEV", "PROD"]}])
    assert resolve_inputs(flow, {"env": "PROD"}, render=render) == {"notify": True, "env": "PROD"}


def test_prefill_is_the_value_when_none_is_sent_and_null_once_cleared() -> None:
    flow = make_flow([{"id": "note", "type": "STRING", "required": False, "prefill": "hi"}])
    assert resolve_inputs(flow, {}) == {"note": "hi"}
    assert resolve_inputs(flow, {"note": None}) == {"note": None}
    assert resolve_inputs(flow, {"note": "mine"}) == {"note": "mine"}


def test_a_cleared_required_prefill_is_missing() -> None:
    flow = make_flow([{"id": "note", "type": "INT", "prefill": 3}])
    with pytest.raises(InputError, match="missing required input"):
        resolve_inputs(flow, {"note": None})


def test_prefill_must_fit_the_type_and_not_come_with_defaults() -> None:
    assert input_errors({"id": "n", "type": "INT", "prefill": "many"})[0][0] == ("inputs", 0, "prefill")
    [(loc, message)] = input_errors({"id": "n", "type": "INT", "prefill": 1, "defaults": 2})
    assert loc == ("inputs", 0, "prefill") and "cannot be used together" in message


def test_auto_select_first_takes_the_first_value_only_when_nothing_else_gives_one() -> None:
    flow = make_flow([{"id": "s", "type": "SELECT", "values": ["a", "b"], "autoSelectFirst": True},
                      {"id": "m", "type": "MULTISELECT", "values": ["x", "y"], "autoSelectFirst": True},
                      {"id": "d", "type": "SELECT", "values": ["a", "b"], "autoSelectFirst": True, "defaults": "b"}])
    assert resolve_inputs(flow, {}) == {"s": "a", "m": ["x"], "d": "b"}
    assert resolve_inputs(flow, {"s": "b", "m": ["y"]}) == {"s": "b", "m": ["y"], "d": "b"}


def test_auto_select_first_is_not_a_property_of_other_inputs() -> None:
    assert input_errors({"id": "e", "type": "ENUM", "values": ["a"], "autoSelectFirst": True})


@pytest.mark.parametrize(("value", "accepted"), [
    ("kestra:///n/f/executions/1/inputs/doc/notes.md", True), ("nsfile:///READ.ME.TXT", True),
    ("kestra:///n/f/executions/1/inputs/doc/data.csv", False), ("nsfile:///.md", False),
    ("nsfile:///notesmd", False),
])
def test_allowed_file_extensions(value: str, accepted: bool) -> None:
    flow = make_flow([{"id": "doc", "type": "FILE", "allowedFileExtensions": [".md", "txt"]}])
    if accepted:
        assert resolve_inputs(flow, {"doc": value}) == {"doc": value}
    else:
        with pytest.raises(InputError, match=r"the file must have one of the extensions \[\.md, \.txt\]"):
            resolve_inputs(flow, {"doc": value})
