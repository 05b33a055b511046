"""ScheduleService on real services and databases (SQLite and PostgreSQL), with a FakeClock.

The clock starts at 2024-06-03 08:00Z (a Monday; 10:00 in Paris). ``tick`` moves it, fires what is
due and runs the created executions inline to their end, as a beat plus executor would.
"""
from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from engine.persistence.triggers import TriggerState
from engine.services import Services
from engine.state import State
from tests.services.conftest import Engine

UTC = UTC


def flow(triggers: str, *, flow_id: str = "daily", extra: str = "") -> str:
    return textwrap.dedent("""
        id: {flow_id}
        namespace: company.team
        {extra}
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "ran for {{{{ trigger.date }}}}"
        triggers:
        """).format(flow_id=flow_id, extra=extra) + textwrap.indent(textwrap.dedent(triggers), "  ")


DAILY = """
- id: morning
  type: io.kestra.plugin.core.trigger.Schedule
  cron: "0 9 * * *"
  timezone: Europe/Paris
"""


def state(services: Services, trigger_id: str = "morning", flow_id: str = "daily") -> TriggerState:
    found = services.schedules.states.get("company.team", flow_id, trigger_id)
    assert found is not None
    return found


def fire(engine: Engine, at: datetime, *, drain: bool = True) -> int:
    engine.clock.now = at
    made = engine.services.fire_schedules(at)
    if drain:
        engine.drain()
    return made




def june(day: int, hour: int = 7, minute: int = 0, second: float = 0.2) -> datetime:
    """2024-06-<day> <hour>:<minute> UTC plus a fraction (a tick comes a little after the date)."""
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


def test_a_due_date_creates_one_execution_with_inputs_labels_and_trigger_vars(engine: Engine) -> None:
    engine.deploy(flow(DAILY + """  inputs:
    day: "{{ trigger.date }}"
  labels:
    team: data
""", extra="inputs:\n  - id: day\n    type: STRING"))
    assert state(engine.services).next_date == datetime(2024, 6, 4, 7, tzinfo=UTC)
    assert fire(engine, june(4, 6, 59, 59)) == 0
    assert fire(engine, june(4)) == 1
    assert fire(engine, june(4, second=1)) == 0  # the same date never fires twice
    row = state(engine.services)
    assert row.next_date == datetime(2024, 6, 5, 7, tzinfo=UTC) and row.last_date == datetime(2024, 6, 4, 7, tzinfo=UTC)
    execution = engine.get(str(row.last_execution_id))
    assert execution.state.current == State.SUCCESS
    assert execution.inputs == {"day": "2024-06-04T09:00:00+02:00"}
    assert execution.label_map["team"] == "data"
    assert execution.schedule_date == datetime(2024, 6, 4, 7, tzinfo=UTC)
    assert execution.trigger is not None and execution.trigger.id == "morning"
    assert execution.trigger.type == "io.kestra.plugin.core.trigger.Schedule"
    assert execution.trigger.variables == {"date": "2024-06-04T09:00:00+02:00",
                                           "next": "2024-06-05T09:00:00+02:00",
                                           "previous": "2024-06-03T09:00:00+02:00"}
    assert engine.messages(execution.id, "log") == ["ran for 2024-06-04T09:00:00+02:00"]


def _executions(engine: Engine, trigger_id: str = "morning", flow_id: str = "daily") -> list[str]:
    """Trigger dates of every execution the trigger created (from the fired keys)."""
    from sqlalchemy import select

    from engine.persistence.tables import fired

    with engine.services.env.db.transaction(write=False) as session:
        rows = session.execute(select(fired.c.execution_id).where(
            fired.c.flow_id == flow_id, fired.c.trigger_id == trigger_id)).all()
    made = [engine.get(row.execution_id) for row in rows]
    return sorted(str(e.trigger.variables["date"]) for e in made if e.trigger is not None)


def _catch_up(engine: Engine, at: datetime, ticks: int = 10) -> None:
    for _ in range(ticks):
        fire(engine, at)


@pytest.mark.parametrize(("recover", "expected"), [
    ("ALL", ["2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07"]),
    ("LAST", ["2024-06-07"]),
    ("NONE", []),
])
def test_three_days_of_downtime(engine: Engine, recover: str, expected: list[str]) -> None:
    """Beat down from 06-03 10:00 Paris to 06-07 10:00: four 09:00 dates were missed."""
    engine.deploy(flow(DAILY + f"  recoverMissedSchedules: {recover}\n"))
    _catch_up(engine, june(7, 8))
    assert [d[:10] for d in _executions(engine)] == expected
    assert state(engine.services).next_date == datetime(2024, 6, 8, 7, tzinfo=UTC)


def test_late_maximum_delay_skips_dates_that_are_too_late(engine: Engine) -> None:
    engine.deploy(flow(DAILY + "  lateMaximumDelay: PT30H\n"))
    _catch_up(engine, june(7, 8))
    assert [d[:10] for d in _executions(engine)] == ["2024-06-06", "2024-06-07"]


def test_no_fire_while_the_last_execution_runs(engine: Engine) -> None:
    engine.deploy(flow("""
- id: hourly
  type: io.kestra.plugin.core.trigger.Schedule
  cron: "0 * * * *"
"""))
    assert fire(engine, june(3, 9), drain=False) == 1  # created, not run: still CREATED
    assert fire(engine, june(3, 10), drain=False) == 0  # 10:00 is due but 09:00 still runs
    assert fire(engine, june(3, 11), drain=False) == 0
    engine.drain()  # 09:00 ends; 10:00 and 11:00 (ALL) now fire, one after the other
    _catch_up(engine, june(3, 11), ticks=3)
    assert [d[11:16] for d in _executions(engine, "hourly")] == ["09:00", "10:00", "11:00"]


def test_allow_concurrent_fires_while_the_last_execution_runs(engine: Engine) -> None:
    engine.deploy(flow("""
- id: hourly
  type: io.kestra.plugin.core.trigger.Schedule
  cron: "0 * * * *"
  allowConcurrent: true
"""))
    assert fire(engine, june(3, 9), drain=False) == 1
    assert fire(engine, june(3, 10), drain=False) == 1  # 09:00 still runs: 10:00 starts anyway
    assert fire(engine, june(3, 11), drain=False) == 1
    running = [e for e in engine.services.env.executions.list(size=10).items if e.state.current == State.CREATED]
    assert len(running) == 3
    engine.drain()
    assert [d[11:16] for d in _executions(engine, "hourly")] == ["09:00", "10:00", "11:00"]


def test_stop_after_disables_the_trigger(engine: Engine) -> None:
    engine.deploy(flow(DAILY + "  stopAfter: [SUCCESS]\n"))
    assert fire(engine, june(4)) == 1
    assert fire(engine, june(5)) == 0
    row = state(engine.services)
    assert row.disabled and row.data["stoppedBy"] == row.last_execution_id
    assert fire(engine, june(9)) == 0 and len(_executions(engine)) == 1


def test_conditions_skip_dates(engine: Engine) -> None:
    engine.deploy(flow(DAILY + """  conditions:
    - type: io.kestra.plugin.core.condition.DayWeek
      dayOfWeek: FRIDAY
"""))
    _catch_up(engine, june(10, 8))  # Tuesday 4th .. Monday 10th: one Friday, the 7th
    assert [d[:10] for d in _executions(engine)] == ["2024-06-07"]
    assert state(engine.services).next_date == datetime(2024, 6, 11, 7, tzinfo=UTC)


def test_sync_on_deploy_updates_drops_and_disables(engine: Engine, services: Services) -> None:
    engine.deploy(flow(DAILY + """- id: other
  type: io.kestra.plugin.core.trigger.Schedule
  cron: "@hourly"
"""))
    assert {s.trigger_id for s in services.schedules.states.list("company.team")} == {"morning", "other"}
    engine.deploy(flow(DAILY.replace("0 9", "30 9")))
    assert {s.trigger_id for s in services.schedules.states.list("company.team")} == {"morning"}
    assert state(services).next_date == datetime(2024, 6, 4, 7, 30, tzinfo=UTC)  # 09:30 Paris today has passed
    engine.deploy(flow(DAILY.replace("0 9", "30 9") + "  disabled: true\n"))
    assert state(services).disabled
    assert fire(engine, june(4, 8)) == 0
    engine.deploy(flow(DAILY.replace("0 9", "30 9")))  # enabled again: starts from now
    assert not state(services).disabled
    assert state(services).next_date == datetime(2024, 6, 5, 7, 30, tzinfo=UTC)
    engine.deploy(flow(DAILY, extra="disabled: true"))
    assert state(services).disabled


def test_schedule_on_dates(engine: Engine) -> None:
    engine.deploy(flow("""
- id: once
  type: io.kestra.plugin.core.trigger.ScheduleOnDates
  timezone: Europe/Paris
  dates:
    - 2024-06-03T12:00:00
    - "{{ '2024-06-04T12:00:00+02:00' }}"
    - 2024-06-01T12:00:00Z
"""))
    _catch_up(engine, june(5))
    assert _executions(engine, "once") == ["2024-06-03T12:00:00+02:00", "2024-06-04T12:00:00+02:00"]
    assert state(engine.services, "once").next_date is None


def test_two_beats_on_one_database_never_duplicate(engine: Engine, settings, clock) -> None:  # type: ignore[no-untyped-def]
    from cli.inline import InlineDispatcher
    from engine.services import build_services

    engine.deploy(flow("""
- id: every-minute
  type: io.kestra.plugin.core.trigger.Schedule
  cron: "* * * * *"
"""))
    second = build_services(settings, InlineDispatcher(), clock=clock)
    try:
        for minute in range(1, 31):
            at = datetime(2024, 6, 3, 8, minute, tzinfo=UTC) + timedelta(milliseconds=100)
            clock.now = at
            # The second beat read the state before the first one fired: both decide the same date.
            seen = second.schedules.states.get("company.team", "daily", "every-minute")
            engine.services.fire_schedules(at)
            assert seen is not None and second.schedules.fire_one(seen, at) is None
            engine.drain()
    finally:
        second.env.db.dispose()
    assert len(_executions(engine, "every-minute")) == 30
