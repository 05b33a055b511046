"""`podium triggers list` rows, and the conformance corpus' schedule flow (skipped without ../shared)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cli.trigger_commands import describe_triggers
from tests.services.conftest import Engine

CORPUS = Path("/work/shared/conformance/kestra-core")
NY_GAP = """
id: nightly
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: gap
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "30 2 * * *"
    timezone: America/New_York
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: abc
"""


def test_triggers_list_shows_next_fires_with_dst_notes(engine: Engine) -> None:
    engine.clock.now = datetime(2025, 3, 7, 12, tzinfo=UTC)
    engine.deploy(NY_GAP)
    rows = describe_triggers(engine.services, "company", engine.clock.now)
    assert [(r["triggerId"], r["disabled"]) for r in rows] == [("gap", False), ("hook", False)]
    upcoming = rows[0]["next"]
    assert [f["date"] for f in upcoming] == [
        "2025-03-08T02:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00",
        "2025-03-11T02:30:00-04:00", "2025-03-12T02:30:00-04:00"]
    assert "does not exist" in upcoming[1]["note"] and upcoming[0]["note"] is None
    assert rows[1]["next"] == [] and rows[1]["type"].endswith("Webhook")
    assert describe_triggers(engine.services, "other", engine.clock.now) == []


@pytest.mark.skipif(not CORPUS.exists(), reason="the conformance corpus (../shared) is absent")
def test_conformance_schedule_trigger_fires_every_minute_and_every_five(engine: Engine) -> None:
    expected = next(e for e in yaml.safe_load((CORPUS / "expected.yaml").read_text())["flows"]
                    if e["file"] == "schedule-trigger.yaml")
    engine.clock.now = datetime(2024, 6, 3, 8, 0, 30, tzinfo=UTC)
    engine.deploy((CORPUS / "flows" / "schedule-trigger.yaml").read_text())
    made: list[str] = []
    for minute in range(1, 11):  # ten simulated minutes, a tick every 20 s
        for second in (0.2, 20, 40):
            at = datetime(2024, 6, 3, 8, minute, tzinfo=UTC) + timedelta(seconds=second)
            engine.clock.now = at
            engine.services.fire_schedules(at)
            engine.drain()
    states = {s.trigger_id: s for s in engine.services.schedules.states.list(expected["namespace"])}
    for state in states.values():
        execution = engine.get(str(state.last_execution_id))
        assert execution.state.current.value == expected["expected_state"]
        assert len(execution.task_run_list) == expected["taskrun_count"]
        made.append(state.trigger_id)
    from sqlalchemy import func, select

    from engine.persistence.tables import fired

    with engine.services.env.db.transaction(write=False) as session:
        counts = dict(session.execute(select(fired.c.trigger_id, func.count()).group_by(fired.c.trigger_id)).all())
    assert counts == {"schedule-every-min": 10, "schedule-5-min": 2}
