from datetime import UTC, datetime

import pytest

from engine.model.execution import StateRecord
from engine.state import IllegalTransition, State, transition, worst

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("current,target", [
    (State.CREATED, State.RUNNING), (State.RUNNING, State.SUCCESS), (State.RUNNING, State.KILLING),
    (State.KILLING, State.KILLED), (State.FAILED, State.RETRYING), (State.RETRYING, State.CREATED),
    (State.PAUSED, State.RUNNING), (State.FAILED, State.RESTARTED), (State.RESTARTED, State.RUNNING),
    (State.CREATED, State.QUEUED), (State.QUEUED, State.RUNNING), (State.SUCCESS, State.FAILED),
])
def test_legal_transitions(current: State, target: State) -> None:
    assert transition("t", current, target) == target


@pytest.mark.parametrize("current,target", [
    (State.SUCCESS, State.RUNNING), (State.KILLED, State.RUNNING), (State.KILLING, State.RUNNING),
    (State.SKIPPED, State.CREATED), (State.FAILED, State.PAUSED), (State.QUEUED, State.PAUSED),
])
def test_illegal_transitions_raise_with_where_and_what(current: State, target: State) -> None:
    with pytest.raises(IllegalTransition) as err:
        transition("task run abc (t1)", current, target)
    message = str(err.value)
    assert "task run abc (t1)" in message and current.value in message and target.value in message
    assert "allowed from" in message


def test_history_records_each_change_with_its_date() -> None:
    record = StateRecord.start(State.CREATED, NOW)
    later = NOW.replace(hour=1)
    record = record.with_state(State.RUNNING, NOW).with_state(State.SUCCESS, later)
    assert [h.state for h in record.histories] == [State.CREATED, State.RUNNING, State.SUCCESS]
    assert record.end_date == later and record.duration(later) == 3600
    assert record.with_state(State.SUCCESS, later) is record


def test_worst_orders_states_like_kestra() -> None:
    assert worst([State.SUCCESS, State.WARNING]) == State.WARNING
    assert worst([State.WARNING, State.FAILED, State.SUCCESS]) == State.FAILED
    assert worst([State.FAILED, State.KILLED]) == State.KILLED
    assert worst([]) == State.SUCCESS
