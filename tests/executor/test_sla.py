"""A flow's SLAs in the executor: MAX_DURATION through its timer, EXECUTION_ASSERTION after each
step, with each behaviour (FAIL, CANCEL, NONE) and the labels a violation adds."""
from __future__ import annotations

from datetime import timedelta

from engine.executor import CancelTimers, Log, ScheduleTimer, TimerKind
from engine.state import State
from tests.executor.helpers import T0, Harness, load

ECHO = "podium.test.Echo"


def flow(sla: str, after: str = "") -> str:
    return f"""
id: f
namespace: t
sla:
{sla}
tasks:
  - {{id: a, type: {ECHO}, format: one}}
  - {{id: slow, type: {ECHO}}}
  - {{id: c, type: {ECHO}}}
{after}
"""


def warnings(harness: Harness) -> list[str]:
    return [c.message for c in harness.of_type(Log) if c.level == "WARN"]


def test_max_duration_cancels_the_execution_labels_it_and_runs_after_execution() -> None:
    harness = Harness(load(flow("""
  - {id: too_long, type: MAX_DURATION, duration: PT1H, behavior: CANCEL, labels: {sla: miss}}
""", after=f"afterExecution:\n  - {{id: tell, type: {ECHO}, format: '{{{{ execution.state }}}}'}}")),
        hold={"slow"})
    harness.start()
    [timer] = harness.timers
    assert (timer.kind, timer.task_run_id, timer.at) == (TimerKind.SLA, harness.current.id, T0 + timedelta(hours=1))
    harness.fire_next_timer()
    assert harness.state == State.CANCELLED
    assert harness.run("slow").state.current == State.CANCELLED
    assert [r.task_id for r in harness.current.task_run_list] == ["a", "slow", "tell"]  # c never started
    assert harness.run("tell").outputs == {"value": "CANCELLED"}
    assert ("sla", "miss") in [(label.key, label.value) for label in harness.current.labels]
    assert any(m.startswith("SLA 'too_long' violated: execution duration of") for m in warnings(harness))


def test_max_duration_timer_is_cancelled_when_the_execution_ends_first() -> None:
    harness = Harness(load(flow("  - {id: d, type: MAX_DURATION, duration: PT1H, behavior: FAIL}"))).start()
    assert harness.state == State.SUCCESS
    assert CancelTimers(harness.current.id) in harness.commands
    harness.fire_next_timer()  # a late fire changes nothing
    assert harness.state == State.SUCCESS


def test_max_duration_none_only_logs_and_labels() -> None:
    harness = Harness(load(flow("""
  - {id: soft, type: MAX_DURATION, duration: PT1M, behavior: NONE, labels: [{key: late, value: "yes"}]}
  - {id: hard, type: MAX_DURATION, duration: PT2M, behavior: FAIL}
""")), hold={"slow"}).start()
    harness.fire_next_timer()
    assert harness.state == State.RUNNING
    assert ("late", "yes") in [(label.key, label.value) for label in harness.current.labels]
    assert [t.at for t in harness.timers if isinstance(t, ScheduleTimer)] == [T0 + timedelta(minutes=2)]
    harness.fire_next_timer()
    assert harness.state == State.FAILED and harness.run("slow").state.current == State.FAILED


def test_execution_assertion_fails_the_execution_once_false() -> None:
    harness = Harness(load(flow("""
  - id: no_one
    type: EXECUTION_ASSERTION
    assert: "{{ outputs.a is not defined or outputs.a.value != 'one' }}"
    behavior: FAIL
    labels: {sla: broken}
"""))).start()
    assert harness.state == State.FAILED
    assert [r.task_id for r in harness.current.task_run_list][:1] == ["a"] and not harness.runs("c")
    assert ("sla", "broken") in [(label.key, label.value) for label in harness.current.labels]
    assert any("assertion is false" in m for m in warnings(harness))


def test_execution_assertion_none_is_logged_once_when_it_turns_false() -> None:
    harness = Harness(load(flow("""
  - {id: watch, type: EXECUTION_ASSERTION, assert: "{{ outputs.a is not defined }}", behavior: NONE}
"""))).start()
    assert harness.state == State.SUCCESS
    assert len([m for m in warnings(harness) if m.startswith("SLA 'watch' violated")]) == 1


def test_an_assertion_that_cannot_be_evaluated_is_a_violation() -> None:
    harness = Harness(load(flow("""
  - {id: broken, type: EXECUTION_ASSERTION, assert: "{{ nope.missing.thing }}", behavior: CANCEL}
"""))).start()
    assert harness.state == State.CANCELLED
    assert any("could not be evaluated" in m for m in warnings(harness))
