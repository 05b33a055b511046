"""``podium backfill``: dry run with DST notes, a real run with its progress bar, operations, errors."""
from __future__ import annotations

import json

from tests.cli.conftest import Podium, podium, write

__all__ = ["podium"]

FLOW = """
id: daily
namespace: demo
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }} {{ labels.team }}"
triggers:
  - id: at_230
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "30 2 * * *"
    timezone: America/New_York
  - id: on_upstream
    type: io.kestra.plugin.core.trigger.Flow
"""


def _deployed(podium: Podium) -> Podium:
    path = write(podium.cwd, "daily.yaml", FLOW)
    assert podium.invoke("flow", "deploy", str(path)).exit_code == 0
    return podium


def test_dry_run_lists_local_and_utc_times_with_the_dst_note_and_creates_nothing(podium: Podium) -> None:
    _deployed(podium)
    result = podium.invoke("backfill", "demo", "daily", "at_230", "--start", "2025-03-08",
                           "--end", "2025-03-10", "--dry-run", columns=200)
    assert result.exit_code == 0, result.output
    assert "2025-03-08 02:30:00 EST │ 2025-03-08 07:30:00" in result.output
    assert "2025-03-09 03:00:00 EDT │ 2025-03-09 07:00:00 │ 02:30 does not exist on 2025-03-09 in " \
           "America/New_York (clocks jump forward)" in result.output
    assert "2 fire time(s) would run; 1 moved or merged by a daylight-saving change. Nothing was " \
           "created." in result.output
    listed = podium.invoke("execution", "list", "--json")
    assert json.loads(listed.output) == []


def test_dry_run_as_json(podium: Podium) -> None:
    _deployed(podium)
    result = podium.invoke("backfill", "demo", "daily", "at_230", "--start", "2025-03-08T00:00",
                           "--end", "2025-03-09T12:00", "--dry-run", "--json")
    document = json.loads(result.output)
    assert document["count"] == 2
    assert document["fireTimes"][0] == {"local": "2025-03-08T02:30:00-05:00", "utc": "2025-03-08T07:30:00+00:00"}
    assert document["fireTimes"][1]["local"] == "2025-03-09T03:00:00-04:00"
    assert "does not exist" in document["fireTimes"][1]["note"]


def test_a_real_backfill_runs_to_the_end_with_its_progress_bar(podium: Podium) -> None:
    _deployed(podium)
    run = podium.process("backfill", "demo", "daily", "at_230", "--start", "2025-03-01",
                         "--end", "2025-03-10T12:00", "--labels", '{"team": "data"}',
                         "--data-dir", str(podium.data_dir))
    assert run.returncode == 0, run.stderr
    assert "created ━" in run.stdout and "finished ━" in run.stdout and "10/10" in run.stdout
    assert "backfill finished: 10 execution(s) created, 0 fire time(s) already done, 10 of 10" in run.stdout

    executions = json.loads(podium.invoke("execution", "list", "--json", "--size", "50").output)
    assert len(executions) == 10 and {e["state"]["current"] for e in executions} == {"SUCCESS"}
    assert all({"key": "system.backfill", "value": "true"} in e["labels"] for e in executions)

    status = podium.invoke("backfill", "status", "demo", "daily", "at_230", "--json")
    document = json.loads(status.output)
    assert (document["status"], document["created"], document["finishedExecutions"]) == ("FINISHED", 10, 10)

    again = podium.process("backfill", "demo", "daily", "at_230", "--start", "2025-03-01",
                           "--end", "2025-03-12T12:00", "--json", "--data-dir", str(podium.data_dir))
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert (document["created"], document["skipped"]) == (2, 10)


def test_detach_pause_resume_cancel(podium: Podium) -> None:
    _deployed(podium)
    recorded = podium.invoke("backfill", "demo", "daily", "at_230", "--start", "2025-01-01",
                             "--end", "2025-01-31", "--detach")
    assert recorded.exit_code == 0
    assert "30 fire time(s)" in recorded.output and "podium backfill status demo daily at_230" in recorded.output
    assert "PAUSED" in podium.invoke("backfill", "pause", "demo", "daily", "at_230").output
    assert "RUNNING" in podium.invoke("backfill", "resume", "demo", "daily", "at_230").output
    cancelled = podium.invoke("backfill", "cancel", "demo", "daily", "at_230")
    assert "CANCELLED" in cancelled.output and "0/30 fire time(s)" in cancelled.output
    listed = json.loads(podium.invoke("backfill", "list", "--json").output)
    assert [(b["triggerId"], b["status"]) for b in listed] == [("at_230", "CANCELLED")]


def test_clear_errors(podium: Podium) -> None:
    _deployed(podium)
    cases = [
        (["demo", "daily", "at_230", "--start", "2025-13-01", "--end", "2025-03-12"],
         "error: --start '2025-13-01' is not an ISO-8601 date: use 2024-01-01"),
        (["demo", "daily", "nope", "--start", "2025-01-01", "--end", "2025-03-12"],
         "error: trigger nope not found in flow demo.daily (its triggers: at_230, on_upstream)"),
        (["demo", "daily", "on_upstream", "--start", "2025-01-01", "--end", "2025-03-12"],
         "only a Schedule trigger can be backfilled"),
        (["demo", "daily", "at_230", "--start", "2025-03-12", "--end", "2025-03-01"],
         "error: backfill start 2025-03-12T00:00:00-04:00 is not before end 2025-03-01T00:00:00-05:00"),
        (["demo", "daily", "at_230", "--start", "2025-03-12", "--end", "2025-03-12"],
         "is not before end"),
        (["demo", "daily", "at_230", "--start", "2025-03-01", "--end", "2025-03-02", "--inputs", "[1]"],
         "error: --inputs must be a JSON object"),
        (["status", "demo", "daily", "at_230"], "has no backfill; start one with"),
    ]
    for args, message in cases:
        result = podium.invoke("backfill", *args, columns=300)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
