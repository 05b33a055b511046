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

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed

_POLL_SECONDS = 0.1
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
    The SIGKILL goes even if the wait is interrupted (``Stopped``)."""
    try:
        _signal_group(process, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[Any], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, sig)
