"""The relay of kills from a worker's main process to its prefork children (messaging/kill_relay.py),
with a real child process: this test process plays the worker's main process, a subprocess its child."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.kill_relay import IDS_PER_DATAGRAM, forget_relay_folder, relay_folder, relay_kill

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from messaging.kill_relay import listen_for_kills

def deliver(task_run_ids, attempt_ids):
    print(len(task_run_ids), len(attempt_ids), attempt_ids[-1], flush=True)

print(listen_for_kills(deliver), flush=True)
sys.stdin.read()  # listens until the test closes its stdin
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    forget_relay_folder()
    yield relay_folder(os.getpid())
    forget_relay_folder()


def _child() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(child: subprocess.Popen[str]) -> str:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=30)
    assert child.stderr is not None
    return child.stderr.read()


def test_a_kill_of_many_attempts_reaches_the_child_in_parts(folder: Path) -> None:
    child = _child()
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == str(folder / str(child.pid))
        assert folder.stat().st_mode & 0o777 == 0o700
        count = IDS_PER_DATAGRAM * 2 + 7
        ids = [f"run{i}" for i in range(count)]
        assert relay_kill(ids, [f"{run}.1" for run in ids]) == 1
        parts = [child.stdout.readline().split() for _ in range(3)]
    finally:
        _stop(child)
    assert parts == [[str(IDS_PER_DATAGRAM), str(IDS_PER_DATAGRAM), f"run{IDS_PER_DATAGRAM - 1}.1"],
                     [str(IDS_PER_DATAGRAM), str(IDS_PER_DATAGRAM), f"run{2 * IDS_PER_DATAGRAM - 1}.1"],
                     ["7", "7", f"run{count - 1}.1"]]


def test_a_bad_datagram_does_not_stop_the_next_kills(folder: Path) -> None:
    child = _child()
    try:
        assert child.stdout is not None
        path = child.stdout.readline().strip()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(b'{"task_run_ids": [1], "attempt_ids": []}', path)
            sender.sendto(b"not json", path)
        assert relay_kill(["run"], ["run.1"]) == 1
        assert child.stdout.readline().split() == ["1", "1", "run.1"]
    finally:
        errors = _stop(child)
    assert errors.count("could not deliver a relayed kill") == 2


def test_the_socket_of_a_child_that_is_gone_is_removed(folder: Path) -> None:
    folder.mkdir(mode=0o700)
    gone = folder / "4194999"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(gone))
    assert relay_kill(["run"], ["run.1"]) == 0
    assert not gone.exists()


def test_a_folder_open_to_others_is_refused(folder: Path) -> None:
    folder.mkdir()
    folder.chmod(0o755)
    child = _child()
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "None"
    assert "kills will reach this worker process only by SIGTERM" in _stop(child)
    assert list(folder.iterdir()) == []


def test_a_worker_without_children_relays_to_nobody(folder: Path) -> None:
    assert relay_kill(["run"], ["run.1"]) == 0
