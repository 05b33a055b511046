"""BackfillService on a real database (SQLite and PostgreSQL): executions, pause, resume, cancel,
idempotency with the schedule, only-gaps, and errors."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from engine.errors import Conflict, NotFound
from engine.model.execution import Execution, ExecutionTrigger
from engine.persistence.triggers import FiredRepository, TriggerStateRepository
from engine.services.backfill_runs import BackfillInvalid
from engine.state import State
from tests.backfill.conftest import Engine

UTC = UTC
NS, FLOW, TRIGGER = "tests.backfill", "daily", "every_day"
FLOW_SOURCE = f"""
id: {FLOW}
namespace: {NS}
labels:
  owner: data
inputs:
  - id: taxi
    type: STRING
    defaults: yellow
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}} {{{{ inputs.taxi }}}}"
triggers:
  - id: {TRIGGER}
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 6 * * *"
    timezone: Europe/Paris
  - id: on_other
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: other
        flowId: other
"""
JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)
JAN_30 = datetime(2024, 1, 30, 23, 59, tzinfo=UTC)


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    engine.deploy(FLOW_SOURCE)
    return engine


def _executions(engine: Engine) -> list[Execution]:
    page = engine.services.env.executions.list(namespace=NS, flow_id=FLOW, size=10_000)
    return sorted(page.items, key=lambda e: e.schedule_date or JAN_1)


def _run_to_end(engine: Engine, per_tick: int = 500) -> int:
    made, ticks = 0, 0
    while True:
        step = engine.services.advance_backfills(engine.clock(), per_tick=per_tick)
        ticks += 1
        if not step:
            return made
        made += step
        assert ticks < 1000


def test_a_30_day_backfill_creates_one_execution_per_day_with_schedule_variables(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    created = backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30, inputs={"taxi": "green"},
                               labels={"reason": "reload"})
    assert created.cursor.total == 30 and created.cursor.status == "RUNNING"
    assert _run_to_end(deployed, per_tick=7) == 30

    made = _executions(deployed)
    assert len(made) == 30
    first = made[0]
    assert first.schedule_date == datetime(2024, 1, 1, 5, tzinfo=UTC)  # 06:00 in Paris
    assert first.trigger == ExecutionTrigger(id=TRIGGER, type="io.kestra.plugin.core.trigger.Schedule",
                                             variables={"date": "2024-01-01T06:00:00+01:00",
                                                        "next": "2024-01-02T06:00:00+01:00",
                                                        "previous": "2023-12-31T06:00:00+01:00"})
    assert first.inputs == {"taxi": "green"}
    assert first.label_map["system.backfill"] == "true" and first.label_map["reason"] == "reload"
    assert first.label_map["owner"] == "data"
    assert [e.schedule_date for e in made] == [datetime(2024, 1, d, 5, tzinfo=UTC) for d in range(1, 31)]
    for before, after in pairwise(made):
        assert before.trigger and after.trigger
        assert before.trigger.variables["next"] == after.trigger.variables["date"]

    status = backfills.status(NS, FLOW, TRIGGER)
    assert (status.cursor.status, status.cursor.created, status.cursor.done) == ("FINISHED", 30, 30)
    deployed.drain()
    assert backfills.status(NS, FLOW, TRIGGER).finished_executions == 30
    ended = deployed.get(first.id)
    assert ended.state.current == State.SUCCESS
    assert deployed.messages(first.id, "hello") == ["2024-01-01T06:00:00+01:00 green"]


def test_pause_stops_creation_resume_continues_cancel_stops_for_good(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30)
    now = deployed.clock()
    assert deployed.services.advance_backfills(now, per_tick=10) == 10
    assert backfills.pause(NS, FLOW, TRIGGER).cursor.status == "PAUSED"
    assert deployed.services.advance_backfills(now, per_tick=10) == 0
    assert len(_executions(deployed)) == 10

    assert backfills.resume(NS, FLOW, TRIGGER).cursor.status == "RUNNING"
    assert deployed.services.advance_backfills(now, per_tick=10) == 10
    assert backfills.cancel(NS, FLOW, TRIGGER).cursor.status == "CANCELLED"
    assert deployed.services.advance_backfills(now, per_tick=10) == 0
    assert len(_executions(deployed)) == 20
    with pytest.raises(Conflict, match="cancelled: it cannot resume; start a new one"):
        backfills.resume(NS, FLOW, TRIGGER)


def test_created_paused_waits_for_resume(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_1 + timedelta(days=2, hours=6), paused=True)
    assert deployed.services.advance_backfills(deployed.clock()) == 0
    backfills.resume(NS, FLOW, TRIGGER)
    assert deployed.services.advance_backfills(deployed.clock()) == 3


def test_a_fire_already_made_by_the_schedule_is_not_made_again(deployed: Engine) -> None:
    fired = FiredRepository(deployed.services.env.db)
    scheduled = datetime(2024, 1, 3, 5, tzinfo=UTC)
    assert fired.claim(NS, FLOW, TRIGGER, scheduled, deployed.clock(), execution_id="scheduled-one")
    deployed.services.backfills.create(NS, FLOW, TRIGGER, JAN_1, datetime(2024, 1, 5, 23, tzinfo=UTC))
    assert _run_to_end(deployed) == 4
    dates = [e.schedule_date for e in _executions(deployed)]
    assert scheduled not in dates and len(dates) == 4
    status = deployed.services.backfills.status(NS, FLOW, TRIGGER)
    assert (status.cursor.created, status.cursor.skipped, status.cursor.total) == (4, 1, 5)


def test_a_second_backfill_over_the_same_days_creates_nothing(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_1 + timedelta(days=4, hours=6))
    assert _run_to_end(deployed) == 5
    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_1 + timedelta(days=9, hours=6))
    assert _run_to_end(deployed) == 5
    assert len(_executions(deployed)) == 10


def test_only_gaps_skips_successes_and_runs_failed_dates_again(engine: Engine) -> None:
    engine.deploy(FLOW_SOURCE.replace(
        'type: io.kestra.plugin.core.log.Log\n    message: "{{ trigger.date }} {{ inputs.taxi }}"',
        "type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ inputs.taxi == 'bad' }}\""))
    backfills = engine.services.backfills
    window = (JAN_1, JAN_1 + timedelta(days=3, hours=6))
    backfills.create(NS, FLOW, TRIGGER, *window, inputs={"taxi": "bad"})
    _run_to_end(engine)
    engine.drain()
    first = _executions(engine)
    assert [e.state.current for e in first] == [State.FAILED] * 4

    # Day 2 is fixed by hand; only days 1, 3 and 4 must run again.
    fixed = engine.start(NS, FLOW, inputs={"taxi": "good"})
    assert fixed.state.current == State.SUCCESS
    _point_key_at(engine, first[1].schedule_date, fixed.id)

    backfills.create(NS, FLOW, TRIGGER, *window, inputs={"taxi": "good"}, only_gaps=True)
    assert _run_to_end(engine) == 3
    engine.drain()
    status = backfills.status(NS, FLOW, TRIGGER)
    assert (status.cursor.created, status.cursor.skipped) == (3, 1)
    rerun = [e for e in _executions(engine) if e.inputs.get("taxi") == "good" and e.schedule_date]
    assert sorted(e.schedule_date for e in rerun) == sorted(
        e.schedule_date for i, e in enumerate(first) if i != 1)
    assert all(e.state.current == State.SUCCESS for e in rerun)

    # Everything succeeded now: a third only-gaps pass has nothing to do.
    backfills.create(NS, FLOW, TRIGGER, *window, only_gaps=True)
    assert _run_to_end(engine) == 0
    assert backfills.status(NS, FLOW, TRIGGER).cursor.skipped == 4


def _point_key_at(engine: Engine, fire_time: datetime | None, execution_id: str) -> None:
    from sqlalchemy import update

    from engine.persistence.tables import fired

    assert fire_time is not None
    with engine.services.env.db.transaction() as session:
        session.execute(update(fired).where(fired.c.fire_time == fire_time).values(execution_id=execution_id))


def test_clear_errors(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    with pytest.raises(NotFound, match="trigger nope not found in flow tests.backfill.daily "
                                       r"\(its triggers: every_day, on_other\)"):
        backfills.create(NS, FLOW, "nope", JAN_1, JAN_30)
    with pytest.raises(Conflict, match="on_other .* is a io.kestra.plugin.core.trigger.Flow: only a "
                                       "Schedule trigger can be backfilled"):
        backfills.create(NS, FLOW, "on_other", JAN_1, JAN_30)
    with pytest.raises(NotFound, match="flow tests.backfill.missing"):
        backfills.create(NS, "missing", TRIGGER, JAN_1, JAN_30)
    with pytest.raises(BackfillInvalid, match="start 2024-01-30T23:59:00\\+00:00 is not before end"):
        backfills.create(NS, FLOW, TRIGGER, JAN_30, JAN_1)
    with pytest.raises(BackfillInvalid, match="system.backfill: keys starting with 'system.' are reserved"):
        backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30, labels={"system.backfill": "x"})
    with pytest.raises(BackfillInvalid, match="has no fire time between"):
        backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_1 + timedelta(hours=1))
    with pytest.raises(NotFound, match="has no backfill; start one with"):
        backfills.status(NS, FLOW, TRIGGER)

    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30)
    with pytest.raises(Conflict, match="already has a running backfill .* cancel it first"):
        backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30)
    assert TriggerStateRepository(deployed.services.env.db).get(NS, FLOW, TRIGGER) is not None


def test_a_disabled_flow_pauses_the_backfill_with_the_reason(deployed: Engine) -> None:
    backfills = deployed.services.backfills
    backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30)
    deployed.deploy(FLOW_SOURCE.replace("labels:", "disabled: true\nlabels:"))
    assert deployed.services.advance_backfills(deployed.clock()) == 0
    cursor = backfills.status(NS, FLOW, TRIGGER).cursor
    assert cursor.status == "PAUSED" and "is disabled" in str(cursor.error)
    deployed.deploy(FLOW_SOURCE)
    backfills.resume(NS, FLOW, TRIGGER)
    assert _run_to_end(deployed) == 30


WEEKDAYS_SOURCE = """
id: weekdays
namespace: tests.backfill
inputs:
  - id: day
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.day }}"
triggers:
  - id: workdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 6 * * *"
    labels:
      day: "{{ trigger.date }}"
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
"""


def test_labels_and_inputs_are_rendered_per_date_and_conditions_filter_dates(engine: Engine) -> None:
    engine.deploy(WEEKDAYS_SOURCE)
    backfills = engine.services.backfills
    # 2024-01-01 is a Monday: two weeks hold 10 workdays and 4 weekend days.
    backfills.create(NS, "weekdays", "workdays", JAN_1, JAN_1 + timedelta(days=13, hours=12),
                     inputs={"day": "{{ trigger.date }}"})
    assert _run_to_end(engine, per_tick=4) == 10
    page = engine.services.env.executions.list(namespace=NS, flow_id="weekdays", size=100)
    made = sorted(page.items, key=lambda e: e.schedule_date or JAN_1)
    assert [e.schedule_date.day for e in made if e.schedule_date] == [1, 2, 3, 4, 5, 8, 9, 10, 11, 12]
    assert made[0].inputs == {"day": "2024-01-01T06:00:00+00:00"}
    assert made[0].label_map["day"] == "2024-01-01T06:00:00+00:00"
    cursor = backfills.status(NS, "weekdays", "workdays").cursor
    assert (cursor.created, cursor.skipped, cursor.total) == (10, 4, 14)


def test_bad_inputs_are_refused_when_the_backfill_is_created(deployed: Engine) -> None:
    deployed.deploy(FLOW_SOURCE.replace("defaults: yellow", "required: true"))
    with pytest.raises(BackfillInvalid, match="inputs of the backfill: .*taxi"):
        deployed.services.backfills.create(NS, FLOW, TRIGGER, JAN_1, JAN_30)
