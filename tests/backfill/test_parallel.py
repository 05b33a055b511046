"""Two beats advancing the same backfills at once never create an execution twice."""
from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cli.inline import InlineDispatcher
from engine.services import Services, build_services
from engine.settings import Settings
from tests.backfill.test_service import FLOW, FLOW_SOURCE, NS, TRIGGER
from tests.services.conftest import FakeClock

UTC = UTC
BEATS = 2


@pytest.fixture
def beats(settings: Settings, clock: FakeClock) -> Iterator[list[Services]]:
    """Two independent Services on one database, as two beat processes would have."""
    built = [build_services(settings, InlineDispatcher(), clock=clock) for _ in range(BEATS)]
    yield built
    for services in built:
        services.env.db.dispose()


def _beat(services: Services, now: datetime, start: threading.Barrier, made: list[int]) -> None:
    start.wait()
    while step := services.advance_backfills(now, per_tick=13):
        made.append(step)


def test_two_beats_in_parallel_create_each_execution_exactly_once(beats: list[Services],
                                                                  clock: FakeClock) -> None:
    first = beats[0]
    first.deploy_source(textwrap.dedent(FLOW_SOURCE))
    first.deploy_source(textwrap.dedent(FLOW_SOURCE.replace(f"id: {FLOW}", "id: other_flow", 1)))
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 9, 23, tzinfo=UTC)  # 100 days
    first.backfills.create(NS, FLOW, TRIGGER, start, end)
    first.backfills.create(NS, "other_flow", TRIGGER, start, end)

    barrier = threading.Barrier(BEATS)
    made: list[list[int]] = [[] for _ in beats]
    threads = [threading.Thread(target=_beat, args=(services, clock(), barrier, made[i]))
               for i, services in enumerate(beats)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(map(sum, made)) == 200
    for flow_id in (FLOW, "other_flow"):
        page = first.env.executions.list(namespace=NS, flow_id=flow_id, size=1000)
        dates = [execution.schedule_date for execution in page.items]
        assert len(dates) == len(set(dates)) == 100
        cursor = first.backfills.status(NS, flow_id, TRIGGER).cursor
        assert (cursor.status, cursor.created, cursor.skipped) == ("FINISHED", 100, 0)
