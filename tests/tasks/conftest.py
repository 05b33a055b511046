"""Fixtures of the runnable-task tests: a World (storage in a temp dir, in-memory KV, log list,
settable clock) and a ``run`` helper that parses a task from a YAML-like dict and runs it."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.storage.local import LocalStorage
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import run_task
from tests.tasks.helpers import World

Run = Callable[..., TaskOutcome]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(storage=LocalStorage(tmp_path / "storage"))


@pytest.fixture
def run(world: World) -> Run:
    """``run({"type": ..., ...}, variables=..., ctx=...)``: parse through the registry, then run_task."""

    def _run(task: dict[str, Any], ctx: RunContext | None = None, **context_args: Any) -> TaskOutcome:
        task = {"id": "task", **task}
        spec = world.registry.resolve(task["type"])
        options = spec.options.model_validate({**task, "type": spec.type}, context={"registry": world.registry})
        with ctx or world.context(task["id"], **context_args) as context:
            return run_task(spec, options, context)

    return _run
