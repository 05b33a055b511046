"""Real `python -m beat` processes on one real database (SQLite file and PostgreSQL).

Simulated time: every beat gets ``PODIUM_BEAT_FAKE_CLOCK`` (beat/clock.py) with the same
start, wall-clock anchor and speed, so all processes agree on "now" while a two-hour window
passes in a few real seconds; the clock freezes at the window's end. This test process plays
the executor: it runs each created execution to its end (inline), which lets the no-overlap
rule release the next date. With recoverMissedSchedules ALL every date of the window fires
eventually, so the expected count is exact whatever the timing.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.inline import InlineDispatcher
from engine.executor import events as ev
from engine.persistence.leader import LeaderRepository
from engine.persistence.tables import executions as executions_table
from engine.persistence.tables import fired
from engine.services import Services, build_services
from engine.services.messages import encode_event
from engine.settings import Settings
from tests.services.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
WINDOW = timedelta(hours=2)
SPEED = 600.0  # ten simulated minutes per real second
FLOWS = 3
PER_FLOW = 12  # */10 over (08:00, 10:00]: 08:10 ... 10:00
WAIT_LIMIT = 120.0  # a ceiling for a hung run, not a speed assertion

FLOW = """
id: tick-{n}
namespace: company.beat
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: every-ten
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/10 * * * *"
"""


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    built = build_services(settings, InlineDispatcher(), clock=FakeClock(START))
    yield built
    built.env.db.dispose()


def _beat(tmp_path: Path, database_url: str, name: str, *args: str,
          clock: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_DATA_DIR": str(tmp_path / "data"),
           "PYTHONUNBUFFERED": "1"}
    if clock:
        env["PODIUM_BEAT_FAKE_CLOCK"] = clock
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "beat", "--interval", "0.05", *args], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_created(services: Services) -> int:
    """Plays the executor: starts and finishes every CREATED execution inline."""
    with services.env.db.transaction(write=False) as session:
        waiting = session.execute(select(executions_table.c.id).where(
            executions_table.c.state == "CREATED")).scalars().all()
    dispatcher = services.env.dispatcher
    assert isinstance(dispatcher, InlineDispatcher)
    for execution_id in waiting:
        dispatcher.executor.handle_event(execution_id, encode_event(ev.Start()))
    dispatcher.drain()
    return len(waiting)


def _count(services: Services) -> tuple[int, int]:
    with services.env.db.transaction(write=False) as session:
        made = session.execute(select(func.count()).select_from(executions_table)).scalar_one()
        keys = session.execute(select(func.count()).select_from(fired)).scalar_one()
    return int(made), int(keys)


@pytest.mark.parametrize("lock", ["no-lock", "lock"])
def test_two_beat_processes_never_duplicate(tmp_path: Path, database_url: str, services: Services,
                                            lock: str) -> None:
    for n in range(FLOWS):
        services.deploy_source(textwrap.dedent(FLOW.format(n=n)))
    anchor = time.time() + 3  # both processes are up before simulated time starts moving
    clock = f"start={START.isoformat()},anchor={anchor},speed={SPEED},end={(START + WINDOW).isoformat()}"
    extra = ("--no-leader-lock",) if lock == "no-lock" else ()
    beats = [_beat(tmp_path, database_url, f"beat{i}", *extra, clock=clock) for i in range(2)]
    expected = FLOWS * PER_FLOW
    try:
        deadline = time.monotonic() + WAIT_LIMIT
        while _count(services)[0] < expected and time.monotonic() < deadline:
            _run_created(services)
            time.sleep(0.05)
        # The window is over (clock frozen at its end): let the beats tick on a little more.
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            _run_created(services)
            time.sleep(0.05)
    finally:
        _stop(*beats)
    logs = "".join((tmp_path / f"beat{i}.log").read_text() for i in range(2))
    assert all(b.returncode == 0 for b in beats), logs
    assert _count(services) == (expected, expected), logs
    with services.env.db.transaction(write=False) as session:
        dates = session.execute(select(fired.c.flow_id, fired.c.fire_time)).all()
    assert len(set(dates)) == expected
    assert {d.fire_time for d in dates} == {START + timedelta(minutes=10 * k) for k in range(1, PER_FLOW + 1)}


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        assert process.poll() is None, path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never said {text!r}:\n{path.read_text()}")


def test_a_standby_takes_over_when_the_leader_is_killed(tmp_path: Path, database_url: str,
                                                         services: Services) -> None:
    first = _beat(tmp_path, database_url, "first", "--lease", "1.5")
    second = None
    try:
        _wait_for(tmp_path / "first.log", "podium beat: leader", first)
        second = _beat(tmp_path, database_url, "second", "--lease", "1.5")
        _wait_for(tmp_path / "second.log", "podium beat: standby", second)
        first.kill()  # no clean release: the lease must expire
        first.wait()
        _wait_for(tmp_path / "second.log", "podium beat: leader", second)
        leader = LeaderRepository(services.env.db).get("beat")
        assert leader is not None and f":{second.pid}:" in leader.holder
    finally:
        _stop(first, *([second] if second else []))
