"""Inputs: the models' validation properties and the runtime resolution of values."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from engine.inputs import InputError, nest, resolve_inputs, resolve_outputs
from engine.model.flow import Flow
from engine.plugins.registry import default_registry

REGISTRY = default_registry()


def make_flow(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]] | None = None) -> Flow:
    data = {"id": "f", "namespace": "n", "inputs": inputs,
            "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "x"}]}
    if outputs:
        data["outputs"] = outputs
    return Flow.model_validate(data, context={"registry": REGISTRY})


def input_errors(spec: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        make_flow([spec])
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


# ----------------------------------------------------------------------------- models

def test_name_is_the_deprecated_spelling_of_id() -> None:
    assert make_flow([{"name": "who", "type": "STRING"}]).inputs[0].id == "who"


def test_invalid_type_lists_the_valid_ones() -> None:
    [(loc, message)] = input_errors({"id": "x", "type": "FOO"})
    assert loc == ("inputs", 0, "type")
    assert message.startswith("Invalid type: FOO; use one of STRING, ENUM, SELECT")


def test_defaults_must_fit_the_type() -> None:
    assert input_errors({"id": "x", "type": "INT", "defaults": "abc"}) == [
        (("inputs", 0, "defaults"), "`defaults` does not fit the INT input: it must be an integer")]
    assert input_errors({"id": "x", "type": "INT", "defaults": 3, "min": 5}) == [
        (("inputs", 0, "defaults"), "`defaults` does not fit the INT input: it must be more than `5`")]
    assert make_flow([{"id": "x", "type": "DATE", "defaults": "{{ now() }}"}]).inputs[0].defaults == "{{ now() }}"


def test_file_defaults_are_file_uris_and_array_items_are_not_arrays() -> None:
    assert input_errors({"id": "f", "type": "FILE", "defaults": "/tmp/x"})[0][1] == \
        "`defaults` does not fit the FILE input: it must be a file URI: kestra:///..., nsfile:///path or file:///path"
    for uri in ("nsfile:///hello.txt", "nsfile://company/a.txt", "file:///data/in.csv", "{{ fileURI('a') }}"):
        assert make_flow([{"id": "f", "type": "FILE", "defaults": uri}]).inputs[0].defaults == uri
    assert input_errors({"id": "a", "type": "ARRAY", "itemType": "ARRAY"})[0][1] == "`itemType` cannot be `ARRAY`"
    assert input_errors({"id": "a", "type": "ARRAY"})[0][0] == ("inputs", 0, "itemType")


def test_validator_must_compile_and_select_needs_values() -> None:
    assert input_errors({"id": "s", "type": "STRING", "validator": "\\"})[0][0] == ("inputs", 0, "validator")
    assert "needs `values` or `expression`" in input_errors({"id": "s", "type": "SELECT"})[0][1]


def test_display_name_is_limited_to_64_characters() -> None:
    assert input_errors({"id": "s", "type": "STRING", "displayName": "x" * 65})[0][0] == \
        ("inputs", 0, "displayName")


# ----------------------------------------------------------------------------- resolution

def test_every_type_parses_to_a_json_friendly_value() -> None:
    specs = [{"id": k, "type": t, **extra} for k, t, extra in [
        ("s", "STRING", {}), ("i", "INT", {}), ("f", "FLOAT", {}), ("b", "BOOLEAN", {}),
        ("dt", "DATETIME", {}), ("d", "DATE", {}), ("tm", "TIME", {}), ("du", "DURATION", {}),
        ("j", "JSON", {}), ("y", "YAML", {}), ("u", "URI", {}), ("e", "EMAIL", {}),
        ("a", "ARRAY", {"itemType": "INT"}), ("m", "MULTISELECT", {"values": ["x", "y"]}),
        ("sel", "SELECT", {"values": ["x", "y"]}), ("en", "ENUM", {"values": ["x"]})]]
    raw = {"s": "text", "i": "42", "f": "1.5", "b": "TRUE", "dt": "2024-01-01T10:00:00+02:00",
           "d": "2024-01-31", "tm": "10:15", "du": "PT90M", "j": '{"a": [1]}', "y": "a: 1",
           "u": "https://example.com", "e": "jane@example.com", "a": '["1", 2]', "m": ["y"],
           "sel": "x", "en": "x"}
    assert resolve_inputs(make_flow(specs), raw) == {
        "s": "text", "i": 42, "f": 1.5, "b": True, "dt": "2024-01-01T08:00:00Z", "d": "2024-01-31",
        "tm": "10:15:00", "du": "PT1H30M", "j": {"a": [1]}, "y": {"a": 1}, "u": "https://example.com",
        "e": "jane@example.com", "a": [1, 2], "m": ["y"], "sel": "x", "en": "x"}


def test_all_problems_are_listed_in_kestra_words() -> None:
    flow = make_flow([{"id": "needed", "type": "STRING"}, {"id": "n", "type": "INT", "max": 10},
                      {"id": "code", "type": "STRING", "validator": "[A-Z]+"},
                      {"id": "pick", "type": "SELECT", "values": ["a", "b"]}])
    with pytest.raises(InputError) as caught:
        resolve_inputs(flow, {"n": "11", "code": "abc", "pick": "c"})
    assert caught.value.problems == [
        "Invalid input for `needed`, missing required input, but received `null`",
        "Invalid input for `n`, it must be less than `10`, but received `11`",
        "Invalid input for `code`, it must match the pattern `[A-Z]+`, but received `abc`",
        "Invalid input for `pick`, it must match the values `[a, b]`, but received `c`",
    ]


def test_defaults_optional_inputs_and_dotted_ids_nest() -> None:
    flow = make_flow([{"id": "db.host", "type": "STRING", "defaults": "localhost"},
                      {"id": "db.port", "type": "INT", "defaults": 5432},
                      {"id": "note", "type": "STRING", "required": False}])
    assert resolve_inputs(flow, {"db.port": "6543"}) == {"db": {"host": "localhost", "port": 6543}, "note": None}


def test_depends_on_condition_is_rendered_with_earlier_inputs() -> None:
    flow = make_flow([{"id": "region", "type": "STRING", "dependsOn": {"inputs": ["cloud"],
                                                                      "condition": "{{ inputs.cloud == 'aws' }}"}},
                      {"id": "cloud", "type": "SELECT", "values": ["aws", "gcp"]}])
    seen: list[Mapping[str, Any]] = []

    def render(expression: str, variables: Mapping[str, Any]) -> Any:
        seen.append(variables)
        return variables["inputs"]["cloud"] == "aws"

    assert resolve_inputs(flow, {"cloud": "gcp", "region": "eu"}, render=render) == {"cloud": "gcp"}
    assert resolve_inputs(flow, {"cloud": "aws", "region": "eu"}, render=render) == {"region": "eu", "cloud": "aws"}
    assert seen[0] == {"inputs": {"cloud": "gcp"}}


def test_select_expression_gives_the_allowed_values() -> None:
    flow = make_flow([{"id": "env", "type": "SELECT", "expression": "{{ kv('envs') }}"}])

    def render(expression: str, variables: Mapping[str, Any]) -> list[str]:
        return ["dev", "prod"]

    assert resolve_inputs(flow, {"env": "prod"}, render=render) == {"env": "prod"}
    with pytest.raises(InputError, match="it must match the values `\\[dev, prod\\]`"):
        resolve_inputs(flow, {"env": "qa"}, render=render)


def test_file_values_go_through_the_callable_which_knows_a_flow_default_from_a_given_value() -> None:
    flow = make_flow([{"id": "data", "type": "FILE"}, {"id": "kept", "type": "FILE"},
                      {"id": "default", "type": "FILE", "defaults": "nsfile:///d.csv"}])
    seen: list[tuple[str, str, bool]] = []

    def store_file(input_id: str, value: str, declared: bool) -> str:
        seen.append((input_id, value, declared))
        return value if "://" in value else f"kestra:///stored/{input_id}"

    stored = resolve_inputs(flow, {"data": "/tmp/a.csv", "kept": "kestra:///n/f/x.csv"}, store_file=store_file)
    assert stored == {"data": "kestra:///stored/data", "kept": "kestra:///n/f/x.csv", "default": "nsfile:///d.csv"}
    assert seen == [("data", "/tmp/a.csv", False), ("kept", "kestra:///n/f/x.csv", False),
                    ("default", "nsfile:///d.csv", True)]


def test_a_file_value_that_is_no_file_uri_is_refused_with_the_input_named() -> None:
    flow = make_flow([{"id": "data", "type": "FILE"}])
    with pytest.raises(InputError, match="Invalid input for `data`, it must be a file URI: kestra:///..., "
                                         "nsfile:///path or file:///path, but received `/etc/passwd`"):
        resolve_inputs(flow, {"data": "/etc/passwd"})


def test_booleans_follow_kestra_and_typed_values_are_accepted() -> None:
    flow = make_flow([{"id": "b", "type": "BOOLEAN"}, {"id": "i", "type": "INT"}])
    assert resolve_inputs(flow, {"b": "yes", "i": 7}) == {"b": False, "i": 7}


def test_outputs_are_parsed_by_type() -> None:
    flow = make_flow([], outputs=[{"id": "n", "type": "INT", "value": "x"},
                                  {"id": "items", "type": "ARRAY", "value": ["a"]}])
    assert resolve_outputs(flow, {"n": "3", "items": ["a", "b"]}) == {"n": 3, "items": ["a", "b"]}
    with pytest.raises(InputError, match="Invalid output for `n`, it must be an integer, but received `x`"):
        resolve_outputs(flow, {"n": "x", "items": []})


def test_nest() -> None:
    assert nest({"a.b.c": 1, "a.d": 2, "e": 3}) == {"a": {"b": {"c": 1}, "d": 2}, "e": 3}


# ----------------------------------------------------------------------------- hostile values

def refusal(spec: dict[str, Any], value: Any) -> str:
    with pytest.raises(InputError) as caught:
        resolve_inputs(make_flow([spec]), {spec["id"]: value})
    [problem] = caught.value.problems
    return problem


def test_int_is_a_java_integer_as_in_kestra() -> None:
    flow = make_flow([{"id": "i", "type": "INT"}])
    assert resolve_inputs(flow, {"i": "2147483647"}) == {"i": 2**31 - 1}
    assert resolve_inputs(flow, {"i": -(2**31)}) == {"i": -(2**31)}
    too_big = "Invalid input for `i`, it must be an integer from -2147483648 to 2147483647, but received"
    assert refusal({"id": "i", "type": "INT"}, "2147483648") == f"{too_big} `2147483648`"
    assert refusal({"id": "i", "type": "INT"}, -(2**63)) == f"{too_big} `{-(2**63)}`"
    assert refusal({"id": "i", "type": "INT"}, "9" * 5000).startswith(f"{too_big} `99999")
    assert input_errors({"id": "i", "type": "INT", "max": 2**40})[0][0] == ("inputs", 0, "max")


def test_huge_and_infinite_floats_are_refused_not_raised() -> None:
    assert refusal({"id": "f", "type": "FLOAT"}, 10**400) == (
        "Invalid input for `f`, it must be a number within the range of a 64-bit float, "
        f"but received `{str(10**400)[:300]}…`")
    assert refusal({"id": "f", "type": "FLOAT"}, "1e999") == (
        "Invalid input for `f`, it must be a finite number, but received `1e999`")
    assert input_errors({"id": "f", "type": "FLOAT", "defaults": 10**400})[0][0] == ("inputs", 0, "defaults")


def test_a_deeply_nested_json_input_is_refused_in_one_line() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert refusal({"id": "j", "type": "JSON"}, deep) == (
        "Invalid input for `j`, it must be valid JSON (the value is nested more than 200 levels deep; flatten it), "
        f"but received `{deep[:300]}…`")
    nested: list[Any] = []
    for _ in range(5000):  # already parsed, as an API body or a trigger sends it
        nested = [nested]
    assert "the value is nested more than 200 levels deep" in refusal({"id": "j", "type": "JSON"}, nested)


def test_json_numbers_python_cannot_hold_are_refused() -> None:
    assert "a number of 5,000 characters is longer than the limit of 1,000" in \
        refusal({"id": "j", "type": "JSON"}, '{"n": ' + "9" * 5000 + "}")
    assert "NaN is not a JSON number" in refusal({"id": "j", "type": "JSON"}, "[NaN]")


def test_a_yaml_input_alias_bomb_is_refused_at_once() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    assert "the YAML aliases (*name) here expand the document beyond 100,000 values" in \
        refusal({"id": "y", "type": "YAML"}, bomb)
    assert refusal({"id": "y", "type": "YAML"}, "a: 'x\x01'\n") == (
        "Invalid input for `y`, it must be valid YAML (line 1, column 6: the character U+0001 is not allowed in "
        'YAML; remove it, or write it as "\\x01" inside a double-quoted string), but received `a: \'x\\x01\'\\x0a`')
    assert resolve_inputs(make_flow([{"id": "y", "type": "YAML"}]), {"y": "a: &a [1]\nb: *a"}) == \
        {"y": {"a": [1], "b": [1]}}


def test_an_output_too_large_to_print_is_still_reported() -> None:
    flow = make_flow([], outputs=[{"id": "n", "type": "INT", "value": "x"}])
    with pytest.raises(InputError, match="Invalid output for `n`, it must be an integer from .* but received `a"):
        resolve_outputs(flow, {"n": 10**5000})


def test_durations_and_date_times_beyond_python_are_refused_not_raised() -> None:
    assert refusal({"id": "d", "type": "DURATION"}, "P" + "9" * 30 + "D") == (
        "Invalid input for `d`, it must be an ISO-8601 duration such as PT5M or P1DT2H, "
        f"but received `P{'9' * 30}D`")
    assert refusal({"id": "t", "type": "DATETIME"}, "9999-12-31T23:59:59-23:00") == (
        "Invalid input for `t`, it must be a date-time between the years 1 and 9999 in UTC, "
        "but received `9999-12-31T23:59:59-23:00`")
    assert input_errors({"id": "d", "type": "DURATION", "defaults": "P" + "9" * 30 + "D"})[0][0] == \
        ("inputs", 0, "defaults")
    assert input_errors({"id": "t", "type": "DATETIME", "after": "0001-01-01T00:00:00+01:00"})[0][0] == \
        ("inputs", 0, "after")


def test_a_backtracking_validator_fails_the_input_instead_of_stalling(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.model.input_types as input_types
    monkeypatch.setattr(input_types, "VALIDATOR_SECONDS", 0.2)
    flow = make_flow([{"id": "code", "type": "STRING", "validator": "(a|aa)+$"}])
    with pytest.raises(InputError) as caught:  # `re` would backtrack here for hours
        resolve_inputs(flow, {"code": "a" * 40 + "!"})
    [problem] = caught.value.problems
    assert "the pattern `(a|aa)+$` took more than 0.2 s on this value; simplify the input's validator" in problem
    assert resolve_inputs(flow, {"code": "aaa"}) == {"code": "aaa"}


def test_a_refused_secret_input_is_not_quoted_in_the_error() -> None:
    flow = make_flow([{"id": "token", "type": "SECRET", "validator": "[a-z]+"}])
    with pytest.raises(InputError) as caught:
        resolve_inputs(flow, {"token": "Hunter2-Secret"})
    assert caught.value.problems == [
        "Invalid input for `token`, it must match the pattern `[a-z]+`, but received `******`"]
