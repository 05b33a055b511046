"""A task's timeout stops it for real on the inline runtime: the attempt FAILS once with
"Timeout after PT1S" and its thread is gone within seconds (tests/tasks/test_timeouts.py has the
runner's cases: kills, subprocesses, runaways)."""
from __future__ import annotations

import threading
import time

import pytest

from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.debug import ReturnOptions
from engine.state import State
from tests.services.conftest import Engine, one_run
from tests.tasks.test_timeouts import SEEN

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database matter here

SPIN = """
id: spin
namespace: tests.timeouts
tasks:
  - id: spin
    type: test.Spin
    timeout: PT1S
"""

NAP = """
id: nap
namespace: tests.timeouts
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
    timeout: PT1S
"""


def test_a_timeout_ends_the_attempt_and_its_thread(engine: Engine) -> None:
    engine.services.env.registry.register(PluginSpec(
        type="test.Spin", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
        implementation="tests.tasks.test_timeouts:spin"))
    SEEN.clear()
    execution = engine.run(SPIN)
    spin = one_run(execution, "spin")
    assert [attempt.state.current for attempt in spin.attempts] == [State.FAILED]
    assert "Timeout after PT1S" in engine.messages(execution.id, "spin")
    assert execution.state.current == State.FAILED
    thread = SEEN["thread"]
    deadline = time.monotonic() + 10
    while thread in threading.enumerate() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert thread not in threading.enumerate(), "the timed out task's thread still runs"
    steps = SEEN["steps"]
    time.sleep(0.3)
    assert SEEN["steps"] == steps


def test_a_timeout_ends_a_sleep(engine: Engine) -> None:
    execution = engine.run(NAP)
    assert execution.state.current == State.FAILED
    assert [attempt.state.current for attempt in one_run(execution, "nap").attempts] == [State.FAILED]
    assert "Timeout after PT1S" in engine.messages(execution.id, "nap")
