"""Mutated flows through validation: every one is valid or refused in located, one-line problems."""
from __future__ import annotations

from hypothesis import given

from engine.loader import load_flow_text, validate_source
from engine.plugins.registry import default_registry
from engine.validation import FlowValidationError, Problem
from tests.fuzz.mutations import mutated_flow
from tests.fuzz.support import bounded, fuzz_settings

REGISTRY = default_registry()


def check(problem: Problem, source: str) -> None:
    line = str(problem)
    assert "\n" not in line and "\r" not in line, line
    assert line.startswith(f"fuzz.yaml:{problem.position.line}:{problem.position.column}: "), line
    assert 1 <= problem.position.line <= len(source.splitlines()) + 1, line
    assert problem.position.column >= 1 and problem.message, line


@fuzz_settings(150)
@given(mutated_flow())
def test_a_mutated_flow_is_valid_or_refused_in_located_lines(source: str) -> None:
    with bounded():
        flows, problems = validate_source(source, REGISTRY, path="fuzz.yaml")
    assert flows or problems
    for problem in problems:
        check(problem, source)


@fuzz_settings(100)
@given(mutated_flow())
def test_deploying_a_mutated_flow_gives_a_flow_or_a_flow_validation_error(source: str) -> None:
    with bounded():
        try:
            loaded = load_flow_text(source, REGISTRY, path="fuzz.yaml")
        except FlowValidationError as err:
            assert err.details
            for problem in err.details:
                check(problem, source)
        else:
            assert loaded.flow.id and loaded.source == source
