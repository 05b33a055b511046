"""TemplatedTask reads its rendered spec within engine.safe_yaml's limits."""
from __future__ import annotations

from engine.state import State
from tests.tasks.conftest import Run

BOMB = "\n".join(["type: io.kestra.plugin.core.debug.Return",
                  'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol"]',
                  *(f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 8)}]" for i in range(1, 9)), "format: *l8"])


def test_an_alias_bomb_in_the_spec_fails_the_task_at_once(run: Run) -> None:
    outcome = run({"type": "io.kestra.plugin.core.templating.TemplatedTask", "spec": BOMB})
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.startswith(
        "the rendered spec is not valid YAML: line 7, column 5: the YAML aliases (*name) here expand the "
        "document beyond 100,000 values or 3,145,728 characters (an alias bomb)")
