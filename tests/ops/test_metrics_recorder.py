"""The executor and worker record their metrics in memory and write per-process totals that any
process (the web's /metrics) can sum: real services on a real database, run inline."""
from __future__ import annotations

import textwrap
from pathlib import Path

from cli.inline import InlineDispatcher
from engine.metrics import (
    CREATED_TO_DISPATCHED,
    EXECUTOR_EVENT,
    STARTED_TO_FINISHED,
    TASK_RUN_DURATION,
    TASK_RUN_PHASE,
    MetricsRecorder,
    message_sent_at,
)
from engine.persistence.db import Database
from engine.persistence.metrics import MetricsRepository
from engine.services import build_services
from engine.settings import Settings

FLOW = """
id: hello
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: there
"""


def test_two_processes_totals_are_summed_and_a_repeated_flush_counts_once(database_url: str) -> None:
    db = Database(database_url)
    try:
        first = MetricsRecorder(db, flush_seconds=3600, source="host:1:a")
        second = MetricsRecorder(db, flush_seconds=3600, source="host:2:b")
        first.observe(EXECUTOR_EVENT, 0.002, event="Start")
        first.observe(EXECUTOR_EVENT, 7.0, event="Start")
        second.observe(EXECUTOR_EVENT, 0.002, event="Start")
        for recorder in (first, second, first):
            recorder.flush()
        first.observe(EXECUTOR_EVENT, 0.002, event="Start")  # the flag makes the next flush write it
        first.flush()
        first.flush()
        (rollup,) = MetricsRepository(db).totals()
        assert (rollup.name, rollup.labels, rollup.count) == (EXECUTOR_EVENT, "event=Start", 4)
        assert rollup.buckets["0.0025"] == 3 and rollup.buckets["10.0"] == 1 and rollup.buckets["+Inf"] == 0
        assert abs(rollup.sum - 7.006) < 1e-9
    finally:
        db.dispose()


def test_a_flow_run_records_durations_phases_and_executor_events(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, metrics_flush_seconds=0)
    services = build_services(settings, InlineDispatcher())
    try:
        services.deploy_source(textwrap.dedent(FLOW))
        token = message_sent_at.set(None)
        try:
            created = services.start_execution("company.team", "hello")
            services.env.dispatcher.drain()
        finally:
            message_sent_at.reset(token)
        assert services.get_execution(created.id).state.current.value == "SUCCESS"
        totals = {(r.name, r.labels): r for r in MetricsRepository(services.env.db).totals()}
        assert totals[(TASK_RUN_DURATION, "state=SUCCESS")].count == 2
        assert totals[(TASK_RUN_PHASE, f"phase={CREATED_TO_DISPATCHED}")].count == 2
        assert totals[(TASK_RUN_PHASE, f"phase={STARTED_TO_FINISHED}")].count == 2
        assert totals[(EXECUTOR_EVENT, "event=Start")].count == 1
        # Quick tasks report only their end (worker.running_report_after): one result event each.
        assert totals[(EXECUTOR_EVENT, "event=TaskRunResult")].count == 2
        assert MetricsRepository(services.env.db).executions_by_state() == {"SUCCESS": 1}
    finally:
        services.env.db.dispose()
