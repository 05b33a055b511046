"""Every example in flows/ validates; a broken copy of each one is reported with a position."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.loader import load_flow_text, validate_source
from engine.plugins.registry import default_registry

EXAMPLES = sorted((Path(__file__).parent.parent / "flows").glob("*.yaml"))
REGISTRY = default_registry()
POSITIONED = re.compile(r"^[\w.-]+\.yaml:\d+:\d+: ")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates(path: Path) -> None:
    loaded = load_flow_text(path.read_text(), REGISTRY, path=path.name)
    assert loaded.flow.id == path.stem


def test_the_examples_cover_the_documented_cases() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"hello_world", "getting_started_pipeline", "postgres_taxi", "kv_setup"} <= names
    triggers = {t.type for p in EXAMPLES for t in load_flow_text(p.read_text(), REGISTRY).flow.triggers or []}
    assert {"io.kestra.plugin.core.trigger.Schedule", "io.kestra.plugin.core.trigger.Flow",
            "io.kestra.plugin.core.trigger.Webhook"} <= triggers


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_broken_copy_is_reported_with_file_line_and_column(path: Path) -> None:
    source = path.read_text()
    lines = source.splitlines()
    index = next(i for i, line in enumerate(lines) if re.match(r"^\s+(- )?type: io\.kestra", line))
    lines[index] = lines[index] + "Typo"
    broken = "\n".join(lines) + "\n"
    flows, problems = validate_source(broken, REGISTRY, path=path.name)
    assert flows == []
    assert len(problems) == 1
    text = str(problems[0])
    assert POSITIONED.match(text), text
    assert problems[0].position.line == index + 1
    assert "Typo'" in text and problems[0].field.endswith(".type")
