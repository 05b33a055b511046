"""L1 pure core: a flow's ``sla`` (Kestra's SLA, GA in 1.0), checked while the execution runs.

- MAX_DURATION: a timer (``TimerKind.SLA``, one per execution, for the earliest deadline not
  checked yet) is set when the execution starts; when it fires, each SLA whose ``duration`` has
  passed since the execution was created is violated.
- EXECUTION_ASSERTION: ``assert`` is rendered after each step that changed the running execution
  (Kestra evaluates it on every change); false, or not renderable, is a violation.

A violation logs a warning, adds the SLA's ``labels`` to the execution, and then by ``behavior``:
FAIL or CANCEL end the execution FAILED or CANCELLED at once (the last task run not ended takes
that state after KILLED, the others are KILLED, all stopped on their workers; ``afterExecution`` tasks then run),
NONE changes nothing else. Only the first violation of a step changes the state, as in Kestra.
An assertion that stays false with NONE is logged once, when it turns false.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.durations import parse_duration
from engine.executor import chains, execution_updates
from engine.executor.commands import CancelTimers, ExecutionEnded, Log, ScheduleTimer
from engine.executor.events import TimerKind
from engine.executor.step_state import Work
from engine.model.execution import Execution, Label
from engine.model.flow import Sla, SlaBehavior, SlaType
from engine.state import State, can_transition
from engine.templating.truth import is_truthy

_ENDS = {SlaBehavior.FAIL: State.FAILED, SlaBehavior.CANCEL: State.CANCELLED}


def _of_type(work: Work, kind: SlaType) -> list[Sla]:
    return [sla for sla in work.flow.sla or () if sla.type is kind]


def _deadline(execution: Execution, sla: Sla) -> datetime:
    start = execution.state.start_date
    assert start is not None and sla.duration is not None  # every execution has a first state
    return start + parse_duration(sla.duration)


def schedule_next(work: Work) -> None:
    """Sets the timer of the earliest MAX_DURATION deadline still ahead (none: nothing)."""
    ahead = [_deadline(work.execution, sla) for sla in _of_type(work, SlaType.MAX_DURATION)]
    ahead = [at for at in ahead if at > work.now]
    if ahead:
        work.emit(ScheduleTimer(min(ahead), TimerKind.SLA, work.execution.id))


def on_timer(work: Work) -> None:
    """The MAX_DURATION timer fired: violate each SLA whose deadline passed, set the next timer."""
    if not _running(work):
        return
    for sla in _of_type(work, SlaType.MAX_DURATION):
        if _deadline(work.execution, sla) <= work.now:
            elapsed = work.now - (work.execution.state.start_date or work.now)
            _violate(work, sla, f"execution duration of {elapsed} exceeds the maximum duration of {sla.duration}.")
            if not _running(work):
                return
    schedule_next(work)


def check_assertions(work: Work) -> bool:
    """Evaluates the EXECUTION_ASSERTION SLAs; True when a violation ended the execution."""
    assertions = _of_type(work, SlaType.EXECUTION_ASSERTION)
    if not assertions or not _running(work) or not _changed(work):
        return False
    for sla in assertions:
        reason = _broken(work, work.execution, sla)
        if reason is None:
            continue
        if sla.behavior is SlaBehavior.NONE and _broken(work, work.initial, sla) is not None:
            continue  # false before this step too: logged when it turned false
        _violate(work, sla, reason)
        if not _running(work):
            return True
    return False


def after_settle(work: Work) -> None:
    """The execution ended in this step: its MAX_DURATION timer has nothing left to watch."""
    if work.execution.state.current.is_terminated and not work.initial.state.current.is_terminated \
            and _of_type(work, SlaType.MAX_DURATION):
        work.emit(CancelTimers(work.execution.id))


def _running(work: Work) -> bool:
    return work.execution.state.current in (State.RUNNING, State.PAUSED)


def _changed(work: Work) -> bool:
    return work.execution is not work.initial and work.execution != work.initial


def _broken(work: Work, execution: Execution, sla: Sla) -> str | None:
    """Why the assertion of ``sla`` does not hold on ``execution`` (None: it holds)."""
    assert sla.assert_ is not None  # the model requires it for this type
    saved, work.execution = work.execution, execution
    try:
        holds = is_truthy(work.render(sla.assert_))
    except Exception as error:  # noqa: BLE001 - an assertion that cannot be evaluated is broken, as in Kestra
        return f"assertion could not be evaluated: {error}"
    finally:
        work.execution = saved
    return None if holds else f"assertion is false: {sla.assert_}."


def _violate(work: Work, sla: Sla, reason: str) -> None:
    work.emit(Log(None, "WARN", f"SLA '{sla.id}' violated: {reason}"))
    _add_labels(work, sla.labels)
    state = _ENDS.get(sla.behavior)
    if state is None:
        return
    unfinished = [run.id for run in work.execution.task_run_list
                  if not run.state.current.is_terminated and not chains.is_pending_link(work, run)]
    execution_updates.stop_the_rest(work)  # KILLED, and stopped on their workers
    if unfinished:  # Kestra's markAs: the last task run not ended takes the SLA's state
        last = work.run(unfinished[-1])
        if can_transition(last.state.current, state):
            work.set_state(last, state)
    work.set_execution_state(state)
    work.emit(ExecutionEnded(state))


def _add_labels(work: Work, labels: Any) -> None:
    pairs = labels.items() if isinstance(labels, dict) else \
        [(item.get("key"), item.get("value")) for item in labels or ()]
    wanted = [Label(key=str(key), value=str(value)) for key, value in pairs]
    missing = [label for label in wanted if label not in work.execution.labels]
    if missing:
        work.execution = work.execution.model_copy(update={"labels": (*work.execution.labels, *missing)})
