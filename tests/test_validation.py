"""Validation messages: each tests/flows/invalid/*.yaml must give exactly its *.expected text."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader import validate_source
from engine.plugins.registry import default_registry
from engine.validation import FlowValidationError, Position, Problem

INVALID = Path(__file__).parent / "flows" / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))
REGISTRY = default_registry()


def problems_text(path: Path) -> str:
    flows, problems = validate_source(path.read_text(), REGISTRY, path=path.name, worker_groups=["default"])
    assert flows == [], f"{path.name} should be rejected"
    return "\n".join(str(p) for p in problems) + "\n"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_invalid_flow_gives_the_expected_messages(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text()
    assert problems_text(path) == expected


def test_every_invalid_flow_has_an_expected_file() -> None:
    assert CASES, "no invalid flows found"
    missing = [p.name for p in CASES if not p.with_suffix(".expected").exists()]
    assert missing == []


def test_every_problem_has_a_position_and_a_field_path() -> None:
    _, problems = validate_source((INVALID / "unknown-task-type.yaml").read_text(), REGISTRY, path="x.yaml")
    assert [(p.position, p.field) for p in problems] == [
        (Position(10, 11), "tasks[1].type"), (Position(14, 11), "tasks[2].type")]


def test_union_errors_are_merged_into_one_message() -> None:
    source = "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n" \
             "    message: hi\n    runIf: [1, 2]\n"
    _, problems = validate_source(source, REGISTRY, path="f.yaml")
    assert len(problems) == 1
    assert problems[0].field == "tasks[0].runIf"
    assert problems[0].message.startswith("expected ")


def test_unknown_type_suggestion_is_dropped_when_the_class_name_is_unlike() -> None:
    source = "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.MissingTwo\n"
    _, problems = validate_source(source, REGISTRY, path="f.yaml")
    assert "did you mean" not in str(problems[0])
    assert "podium plugins list" in str(problems[0])


def test_worker_group_must_be_served_when_groups_are_known() -> None:
    source = ("id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
              "    message: hi\n    workerGroup:\n      key: gpu\n")
    assert validate_source(source, REGISTRY, path="f.yaml")[1] == []  # nothing known: not checked
    _, problems = validate_source(source, REGISTRY, path="f.yaml", worker_groups=["default"])
    assert [p.field for p in problems] == ["tasks[0].workerGroup.key"]
    assert "unknown worker group 'gpu'" in problems[0].message
    assert validate_source(source, REGISTRY, path="f.yaml", worker_groups=["gpu"])[1] == []


def test_flow_validation_error_sorts_and_formats_problems() -> None:
    late = Problem("a.yaml", Position(9, 1), "tasks", "late")
    early = Problem("a.yaml", Position(2, 3), "", "early", "fix it")
    error = FlowValidationError([late, early])
    assert str(error) == "a.yaml:2:3: early; fix it\na.yaml:9:1: tasks: late"
    assert error.problems == ["a.yaml:2:3: early; fix it", "a.yaml:9:1: tasks: late"]
    assert isinstance(error, ValueError)
