"""The runnable-task fixtures (``world``, ``run``) for the SQL task tests."""
from tests.tasks.conftest import run, world

__all__ = ["run", "world"]
