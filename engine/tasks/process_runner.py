"""L2 adapter: the Process task runner (``io.kestra.plugin.core.runner.Process``).

The command runs as a local subprocess in a session (so a process group) of its own, in the
working directory the task prepared, with exactly the environment of its :class:`ScriptJob`.
Two threads read its stdout and stderr and hand each line to the task's sink as it is printed.

When the command ends, whatever it left running in its group (a background job, a daemon that
forked without leaving the group) gets SIGTERM then SIGKILL: nothing outlives the attempt. A
kill or a timeout (``cancelled()``) stops the whole group the same way
(``engine.tasks.processes.stop_group``). A process that leaves the group on purpose (``setsid``)
is out of reach: containing it needs a container (the Docker runner).
"""
from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from engine.tasks.outcome import TaskFailed
from engine.tasks.processes import STOPPED, stop_group
from engine.tasks.script_runner import LineSink, ScriptJob

_POLL_SECONDS = 0.05
#: Longest line handed to the sink at once; a longer one comes in pieces.
MAX_LINE_BYTES = 1 << 20


class ProcessScriptRunner:
    """Runs a :class:`ScriptJob` on this host (Kestra's Process runner)."""

    def __init__(self, grace: float = 0.5) -> None:
        self.grace = grace

    def path_in_runner(self, host_path: Path) -> str:
        return str(host_path)

    def run(self, job: ScriptJob, sink: LineSink, cancelled: Callable[[], bool]) -> int:
        try:
            process = subprocess.Popen(list(job.argv), cwd=job.working_dir, env=dict(job.env),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       start_new_session=True)
        except OSError as error:
            raise TaskFailed(f"cannot start '{job.argv[0]}': {error.strerror or error}; check the task's "
                             "interpreter and that the program is installed on the worker") from None
        assert process.stdout is not None and process.stderr is not None
        readers = [_reader(process.stdout, sink, stderr=False), _reader(process.stderr, sink, stderr=True)]
        try:
            while not _ended(process, _POLL_SECONDS):
                if cancelled():
                    raise TaskFailed(STOPPED)
        finally:
            # after an end too: what the command left running in its group goes with it
            stop_group(process, self.grace)
            for reader in readers:
                reader.join()
        return process.returncode


def _ended(process: subprocess.Popen[bytes], within: float) -> bool:
    """Whether ``process`` ended, waiting ``within`` seconds at most (returns at its end)."""
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        return False
    return True


def _reader(stream: IO[bytes], sink: LineSink, *, stderr: bool) -> threading.Thread:
    def read() -> None:
        with stream:
            for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
                sink.line(raw.decode("utf-8", "replace").rstrip("\n"), stderr=stderr)

    thread = threading.Thread(target=read, name="podium-script-output", daemon=True)
    thread.start()
    return thread
