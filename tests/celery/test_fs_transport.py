"""The podium-fs:// transport: producers and workers in separate processes lose and repeat nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.settings import Settings
from messaging.celery_app import make_celery
from messaging.fs_transport import Channel, write_atomically
from tests.celery.fakes import read_records
from tests.celery.procs import ROOT, env_for, start_worker, stop, wait_until

PRODUCER = """
import sys
from engine.dispatch import TaskRunRef
from engine.settings import load_settings
from messaging.celery_app import make_celery
from messaging.dispatch import CeleryDispatcher

name, count = sys.argv[1], int(sys.argv[2])
dispatcher = CeleryDispatcher(make_celery(load_settings()))
for i in range(count):
    if i % 2:
        dispatcher.send_event(f"{name}-{i}", {"i": i, "padding": "x" * 2000})
    else:
        dispatcher.dispatch_task_runs([TaskRunRef(f"{name}-{i}", f"tr-{name}-{i}", 1, "t", "log", "ns.f")])
"""


def test_write_atomically_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "0001_x.default.msg"
    write_atomically(target, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_message_is_claimed_once_within_one_process(tmp_path: Path) -> None:
    app = make_celery(Settings(broker_url="podium-fs://", data_dir=tmp_path))
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        channel.queue_declare("default")
        for i in range(5):
            channel._put("default", {"i": i})
        got = [channel._get("default")["i"] for _ in range(5)]
        assert got == [0, 1, 2, 3, 4]  # FIFO by name
        assert channel._size("default") == 0


@pytest.mark.slow
def test_separate_producers_and_workers_exchange_messages_without_loss(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    env = env_for("podium-fs://", tmp_path / "data", record)
    workers = [start_worker("tests.celery.fake_app", env, tmp_path / f"worker{n}.log", name=f"w{n}")
               for n in range(2)]
    try:
        producers = [subprocess.Popen([sys.executable, "-c", PRODUCER, f"p{n}", "200"], cwd=ROOT, env=env)
                     for n in range(2)]
        assert all(p.wait(120) == 0 for p in producers)
        assert wait_until(lambda: len(read_records(record)) >= 400, timeout=120)
    finally:
        codes = [stop(worker) for worker in workers]
    records = read_records(record)
    ids = [r["execution_id"] if r["kind"] == "event" else r["ref"]["execution_id"] for r in records]
    assert len(ids) == 400 and len(set(ids)) == 400  # nothing lost, nothing twice
    assert all(r["event"]["padding"] == "x" * 2000 for r in records if r["kind"] == "event")
    assert len({r["pid"] for r in records}) == 2  # both workers took part
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(2))
    assert "Traceback" not in logs and "Unrecoverable" not in logs, logs[-3000:]
    assert codes == [0, 0]
    leftovers = os.listdir(tmp_path / "data" / "broker" / "claimed")
    assert leftovers == []
