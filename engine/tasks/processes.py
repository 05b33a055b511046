"""L2 adapter: a program a task runs, stopped with the task.

A task that starts a program (a script, a command line tool) calls ``run_process(ctx, argv)``
rather than ``subprocess.run``: the program runs in a session of its own, and when its task is
told to stop (its timeout or a kill set ``ctx.cancel_event``) or is stopped (``Stopped`` raised
in its thread, engine/tasks/threads.py), its whole process group gets SIGTERM, then SIGKILL
after ``grace`` seconds. Nothing the program started outlives the attempt, and the wait for it is
Python code that a stop interrupts within ``_POLL_SECONDS``. The default grace keeps the whole
stop within the second a task has to stop by itself (``runner.COOPERATIVE_SECONDS``) before
``Stopped`` is raised in its thread.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed

_POLL_SECONDS = 0.1
_GROUP_POLL_SECONDS = 0.01
STOPPED = "the process was stopped: its task run was killed or timed out"


def run_process(ctx: RunContext, argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None, grace: float = 0.5) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` to its end and returns its exit code and output (text); raises TaskFailed
    when the task is told to stop, after stopping the program's process group."""
    process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    ended = False
    try:
        while True:
            try:
                out, err = process.communicate(timeout=_POLL_SECONDS)
                ended = True
                return subprocess.CompletedProcess(list(argv), process.returncode, out, err)
            except subprocess.TimeoutExpired:
                if ctx.is_cancelled:
                    raise TaskFailed(STOPPED) from None
    finally:
        if not ended:
            stop_group(process, grace)


def stop_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM to the process group led by ``process``, then, after at most ``grace`` seconds,
    SIGKILL to whatever is left of it (what the leader started, or a leader that ignores SIGTERM).
    It also serves a group whose leader already ended (what a script left running). Returns as
    soon as the whole group is gone. The SIGKILL goes even if the wait is interrupted (``Stopped``)."""
    try:
        if _signal_group(process, signal.SIGTERM):
            deadline = time.monotonic() + grace
            # reaping the leader (poll) lets an ended leader leave its group, which then empties
            while process.poll() is None or _signal_group(process, 0):
                if time.monotonic() >= deadline:
                    break
                time.sleep(_GROUP_POLL_SECONDS)
    finally:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[Any], sig: int) -> bool:
    """Whether some process of the group was there to get ``sig``."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):  # gone, or a member changed its user: out of reach
        return False
    return True
