"""The runnable-task fixtures (``world``, ``run``) of tests/tasks, shared with these tests."""
from __future__ import annotations

from tests.tasks.conftest import run, world

__all__ = ["run", "world"]
