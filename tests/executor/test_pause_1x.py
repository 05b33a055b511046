"""Kestra 1.x Pause: ``pauseDuration`` (``delay`` its 0.21 name), ``behavior`` when it ends, and
the task-level ``timeout`` that applies only without a duration."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.executor import Resume, TimerKind
from engine.state import State
from tests.executor.helpers import T0, Harness, load

ECHO = "podium.test.Echo"


def _flow(pause: str) -> str:
    return f"""
id: f
namespace: t
tasks:
  - {{id: pause, type: io.kestra.plugin.core.flow.Pause, {pause}}}
  - {{id: after, type: {ECHO}}}
"""


@pytest.mark.parametrize(("behavior", "pause_state", "execution_state", "after_runs"), [
    ("RESUME", State.SUCCESS, State.SUCCESS, True),
    ("WARN", State.WARNING, State.WARNING, True),
    ("FAIL", State.FAILED, State.FAILED, False),
    ("CANCEL", State.CANCELLED, State.CANCELLED, False),
])
def test_the_behavior_decides_what_the_end_of_the_pause_duration_does(
        behavior: str, pause_state: State, execution_state: State, after_runs: bool) -> None:
    harness = Harness(load(_flow(f"pauseDuration: PT5M, behavior: {behavior}"))).start()
    assert harness.state == State.PAUSED
    timer = harness.fire_next_timer()
    assert timer.kind == TimerKind.PAUSE_DELAY and timer.at == T0 + timedelta(minutes=5)
    harness.work()
    assert harness.run("pause").state.current == pause_state
    assert harness.state == execution_state
    assert any(r.task_id == "after" for r in harness.execution.task_run_list) is after_runs


def test_delay_is_the_old_name_of_pause_duration() -> None:
    harness = Harness(load(_flow("delay: PT1S"))).start()
    assert harness.fire_next_timer().at == T0 + timedelta(seconds=1)
    harness.work()
    assert harness.state == State.SUCCESS


def test_with_a_duration_the_timeout_sets_no_timer_of_its_own() -> None:
    # Kestra 1.x: one delay, the pauseDuration's when both are set (0.21 did the same for delay).
    harness = Harness(load(_flow("pauseDuration: PT1H, timeout: PT1S, behavior: WARN"))).start()
    timer = harness.fire_next_timer()
    assert timer.kind == TimerKind.PAUSE_DELAY and timer.at == T0 + timedelta(hours=1)
    harness.work()
    assert harness.state == State.WARNING


def test_a_manual_resume_goes_on_whatever_the_behavior() -> None:
    harness = Harness(load(_flow("pauseDuration: PT1H, behavior: FAIL"))).start()
    harness.send(Resume({}))
    harness.work()
    assert harness.run("pause").state.current == State.SUCCESS and harness.state == State.SUCCESS


def test_warn_turns_the_success_of_the_deprecated_tasks_into_warning() -> None:
    flow = load(f"""
id: f
namespace: t
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
    behavior: WARN
    tasks:
      - {{id: inner, type: {ECHO}}}
""")
    harness = Harness(flow).start()
    harness.fire_next_timer()
    harness.work()
    assert harness.run("inner").state.current == State.SUCCESS
    assert harness.run("pause").state.current == State.WARNING and harness.state == State.WARNING
