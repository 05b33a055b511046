"""A task's outputs are values both databases store alike (engine/tasks/runner.py ``to_jsonable``):
NULs and lone surrogates as U+FFFD, NaN and infinities as strings; an output that is not a JSON
value fails the task once, with its path, rather than failing every write of its result."""
from __future__ import annotations

import json
import math
from typing import Any

from engine.model.task import LogLevel
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.debug import ReturnOptions
from engine.state import State
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import TOO_DEEP, run_task
from tests.tasks.conftest import Run
from tests.tasks.helpers import World


def odd_values(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    return {"nul": "a\x00b", "lone": json.loads('"x\\udc80"'), "nan": math.nan, "inf": [math.inf, -math.inf],
            "bytes": b"c\x00d", "key\x00": 1, "emoji": "😀"}


def not_json(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    return {"rows": [{"id": 1}, {"id": 2, "at": object()}]}


def too_deep(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    return {"deep": value}


def _run(world: World, name: str) -> TaskOutcome:
    spec = PluginSpec(type=f"test.{name}", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation=f"tests.tasks.test_storable_outputs:{name}")
    with world.context("task") as ctx:
        return run_task(spec, ReturnOptions(id="task", type=f"test.{name}"), ctx)


def test_outputs_are_made_storable(world: World) -> None:
    outcome = _run(world, "odd_values")
    assert outcome.state is State.SUCCESS
    assert outcome.outputs == {"nul": "a\ufffdb", "lone": "x\ufffd", "nan": "NaN", "inf": ["Infinity", "-Infinity"],
                               "bytes": "c\ufffdd", "key\ufffd": 1, "emoji": "😀"}


def test_a_nul_in_a_rendered_output_is_replaced(run: Run) -> None:
    outcome = run({"type": "io.kestra.plugin.core.debug.Return", "format": "x\x00y"})
    assert outcome.outputs == {"value": "x\ufffdy"}


def test_an_output_that_is_not_json_fails_the_task_with_its_path(world: World) -> None:
    outcome = _run(world, "not_json")
    assert outcome.state is State.FAILED
    assert outcome.error == ("output 'rows[1].at' is of type object, which cannot be stored: a task's outputs are "
                             "strings, numbers, booleans, null, lists and maps of them")
    assert world.messages(LogLevel.ERROR) == [outcome.error]


def test_outputs_nested_too_deeply_fail_the_task(world: World) -> None:
    outcome = _run(world, "too_deep")
    assert outcome.state is State.FAILED and outcome.error == TOO_DEEP
