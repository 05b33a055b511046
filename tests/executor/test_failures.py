"""Failure handling: errors and finally, allowFailure / allowWarning, runIf, final state
derivation, and retry (timings with a fixed clock, precedence, warningOnRetry, new execution)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.executor import ExecutionEnded, RetryExecution, ScheduleTimer, TimerKind
from engine.state import State
from tests.executor.helpers import T0, Harness, load, load_conformance

ECHO = "podium.test.Echo"


def _flow(tasks: str, extra: str = "") -> object:
    return load(f"id: f\nnamespace: t\ntasks:\n{tasks}\n{extra}")


def test_flow_errors_run_after_a_failure_and_the_execution_stays_failed() -> None:
    flow = _flow(f"  - {{id: ko, type: {ECHO}, fail: true}}\n  - {{id: never, type: {ECHO}}}",
                 f"errors:\n  - {{id: handler, type: {ECHO}}}")
    harness = Harness(flow).start()
    assert [r.task_id for r in harness.execution.task_run_list] == ["ko", "handler"]
    assert harness.run("handler").state.current == State.SUCCESS
    assert harness.state == State.FAILED


def test_flowable_errors_then_finally_then_flow_finally() -> None:
    flow = _flow(f"""  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks: [{{id: ko, type: {ECHO}, fail: true}}]
    errors: [{{id: local, type: {ECHO}}}]
    finally: [{{id: local_finally, type: {ECHO}}}]""", f"finally:\n  - {{id: flow_finally, type: {ECHO}}}")
    harness = Harness(flow).start()
    order = [r.task_id for r in harness.execution.task_run_list]
    assert order == ["seq", "ko", "local", "local_finally", "flow_finally"]
    assert harness.state == State.FAILED


def test_finally_runs_after_success_too() -> None:
    flow = _flow(f"  - {{id: ok, type: {ECHO}}}", f"finally:\n  - {{id: always, type: {ECHO}}}")
    harness = Harness(flow).start()
    assert harness.run("always").state.current == State.SUCCESS
    assert harness.state == State.SUCCESS


def test_allow_failure_turns_failed_into_warning_and_continues() -> None:
    flow = _flow(f"  - {{id: ko, type: {ECHO}, fail: true, allowFailure: true}}\n  - {{id: next, type: {ECHO}}}")
    harness = Harness(flow).start()
    assert harness.run("ko").state.current == State.WARNING
    assert harness.run("ko").attempts[-1].state.current == State.FAILED
    assert harness.run("next").state.current == State.SUCCESS
    assert harness.state == State.WARNING


def test_allow_failure_with_allow_warning_gives_success() -> None:
    flow = _flow(f"  - {{id: ko, type: {ECHO}, fail: true, allowFailure: true, allowWarning: true}}")
    assert Harness(flow).start().state == State.SUCCESS


def test_allow_warning_turns_warning_into_success() -> None:
    flow = _flow(f"  - {{id: warn, type: {ECHO}, result: WARNING, allowWarning: true}}\n"
                 f"  - {{id: warn2, type: {ECHO}, result: WARNING}}")
    harness = Harness(flow).start()
    assert harness.run("warn").state.current == State.SUCCESS
    assert harness.state == State.WARNING


def test_allow_failure_flowable_makes_a_failing_child_a_warning() -> None:
    flow = _flow(f"""  - id: tolerant
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks: [{{id: ko, type: {ECHO}, fail: true}}]
  - {{id: after, type: {ECHO}}}""")
    harness = Harness(flow).start()
    assert harness.run("tolerant").state.current == State.WARNING
    assert harness.run("after").state.current == State.SUCCESS
    assert harness.state == State.WARNING


@pytest.mark.parametrize(("run_if", "state"), [("false", State.SKIPPED), ("0", State.SKIPPED), ("-0", State.SKIPPED),
                                               ("", State.SKIPPED), ("{{ 1 == 1 }}", State.SUCCESS),
                                               ("{{ undefined_thing }}", State.FAILED)])
def test_run_if(run_if: str, state: State) -> None:
    harness = Harness(_flow(f"  - {{id: t, type: {ECHO}, runIf: '{run_if}'}}")).start()
    assert harness.run("t").state.current == state
    assert not harness.run("t").attempts if state != State.SUCCESS else harness.run("t").attempts


def test_final_state_is_the_worst_main_task_state() -> None:
    flow = _flow(f"  - {{id: w, type: {ECHO}, result: WARNING}}\n  - {{id: s, type: {ECHO}}}")
    harness = Harness(flow).start()
    assert harness.state == State.WARNING
    assert harness.of_type(ExecutionEnded) == [ExecutionEnded(State.WARNING)]


def test_constant_retry_dates_and_attempts() -> None:
    harness = Harness(load_conformance("retry-fail.yaml")).start().run_timers()
    timers = harness.of_type(ScheduleTimer)
    assert [(t.kind, t.at - T0) for t in timers] == [(TimerKind.RETRY, timedelta(seconds=1)),
                                                      (TimerKind.RETRY, timedelta(seconds=2))]
    run = harness.run("keepFailingWithRetry")
    assert len(run.attempts) == 3
    assert [h.state for h in run.state.histories][:5] == [State.CREATED, State.RUNNING, State.FAILED,
                                                         State.RETRYING, State.CREATED]
    assert [r.task_id for r in harness.execution.task_run_list] == ["keepFailingWithRetry", "error"]
    assert harness.state == State.FAILED


def test_exponential_retry_uses_kestras_linear_formula() -> None:
    flow = _flow(f"""  - id: t
    type: {ECHO}
    fail: true
    retry: {{type: exponential, interval: PT10S, maxInterval: PT25S, maxAttempt: 5}}""")
    harness = Harness(flow).start().run_timers()
    gaps = []
    previous = T0
    for timer in harness.of_type(ScheduleTimer):
        gaps.append((timer.at - previous).total_seconds())
        previous = timer.at
    # interval × 2 × (attempts − 1), capped at maxInterval: 0, 20, 25 (cap), 25
    assert gaps == [0.0, 20.0, 25.0, 25.0]
    assert len(harness.run("t").attempts) == 5


def test_max_duration_stops_retries() -> None:
    flow = _flow(f"""  - id: t
    type: {ECHO}
    fail: true
    retry: {{type: constant, interval: PT10S, maxDuration: PT25S}}""")
    harness = Harness(flow).start().run_timers()
    assert len(harness.run("t").attempts) == 3  # starts at 0s, 10s, 20s; 30s is past 25s


def test_retry_precedence_parent_flowable_then_flow() -> None:
    harness = Harness(load_conformance("retry-flowable.yaml")).start().run_timers()
    assert len(harness.run("child").attempts) == 3
    flow = _flow(f"  - {{id: t, type: {ECHO}, fail: true}}",
                 "retry: {type: constant, interval: PT1S, maxAttempt: 2}")
    assert len(Harness(flow).start().run_timers().run("t").attempts) == 2


def test_warning_on_retry_after_a_successful_retry() -> None:
    flow = _flow(f"""  - id: t
    type: {ECHO}
    failAttempts: 2
    retry: {{type: constant, interval: PT1S, maxAttempt: 4, warningOnRetry: true}}""")
    harness = Harness(flow).start().run_timers()
    assert len(harness.run("t").attempts) == 3
    assert harness.run("t").state.current == State.WARNING
    assert harness.state == State.WARNING


def test_create_new_execution_retry_marks_retried_and_asks_for_replay() -> None:
    flow = _flow(f"""  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: t
        type: {ECHO}
        fail: true
        retry: {{type: constant, interval: PT1S, maxAttempt: 2, behavior: CREATE_NEW_EXECUTION}}""")
    harness = Harness(flow).start()
    assert harness.run("t").state.current == State.RETRIED
    assert harness.run("seq").state.current == State.RETRIED
    assert harness.state == State.RETRIED
    assert harness.of_type(RetryExecution) == [RetryExecution(harness.execution.id)]


def test_retry_success_sees_attempts_count_and_ends_warning() -> None:
    # conformance retry-success.yaml: '{{ taskrun.attemptsCount == 3 ? ... }}' succeeds on attempt 4
    harness = Harness(load_conformance("retry-success.yaml")).start().run_timers()
    assert len(harness.run("failed").attempts) == 4
    assert harness.state == State.WARNING
    assert not harness.runs("never-happen")
