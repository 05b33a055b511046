"""Helpers to run Celery workers and producers as separate processes in tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def env_for(broker_url: str, data_dir: Path, record: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PODIUM_BROKER_URL": broker_url, "PODIUM_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(ROOT)}
    if record is not None:
        env["PODIUM_TEST_RECORD"] = str(record)
    return env


def start_worker(app_module: str, env: dict[str, str], log: Path, *, queues: str = "executor,default",
                 name: str = "w1") -> subprocess.Popen[bytes]:
    args = [CELERY, "-A", app_module, "worker", "-P", "threads", "-c", "4", "-Q", queues,
            "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "warning"]
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Warm shutdown (SIGTERM), then kill if it hangs; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> bool:
    """Polls ``condition`` until true or the deadline: a deadline for slow machines, not a timing check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
