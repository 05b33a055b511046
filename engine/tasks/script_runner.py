"""L1 pure core: what a script task asks of the place its commands run (its task runner).

A script task (``io.kestra.plugin.scripts.*``) prepares a working directory on the worker's host
(input files, namespace files, the script file), renders its commands with the paths the runner
reports, and hands a :class:`ScriptJob` to a :class:`ScriptRunner`. The runner runs the command
in that directory and passes each output line to a :class:`LineSink` as it is printed (the task
parses the ``::{...}::`` protocol and logs the rest). When the run ends the task collects
``outputFiles`` from the same host directory, so a runner must leave the files its command wrote
there (a container runner mounts or copies them back).

Two runners implement it: the local process group (``io.kestra.plugin.core.runner.Process``) and
Docker (``io.kestra.plugin.scripts.runner.docker.Docker``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ScriptJob:
    """One command to run: ``argv`` (interpreter and script, e.g. ``("/bin/sh", "-c", "...")``),
    the whole environment it gets (never the worker's own), and the host directories it works in."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    working_dir: Path
    output_dir: Path
    container_image: str | None = None


@dataclass(frozen=True)
class ScriptDefaults:
    """What the worker's settings (``scripts.*``) tell script tasks: the runner of a task that
    names none (``PROCESS`` or ``DOCKER``), the Docker engine to reach, the folder where
    Python ``dependencies`` environments are cached (None: ``$XDG_CACHE_HOME/podium``), and
    whether a Docker task may mount host paths."""

    runner: str = "PROCESS"
    docker_host: str | None = None
    cache_dir: Path | None = None
    docker_volumes_enabled: bool = False


class LineSink(Protocol):
    def line(self, text: str, *, stderr: bool) -> None:
        """Receives one line the command printed (without its newline), as soon as it is printed."""


class ScriptRunner(Protocol):
    def path_in_runner(self, host_path: Path) -> str:
        """How the command sees ``host_path`` (``{{ workingDir }}``, ``{{ outputDir }}``, the
        ``WORKING_DIR`` and ``OUTPUT_DIR`` variables)."""

    def run(self, job: ScriptJob, sink: LineSink, cancelled: Callable[[], bool]) -> int:
        """Runs ``job`` to its end and returns its exit code.

        Raises ``engine.tasks.outcome.TaskFailed`` with a one-line reason and its fix when the
        command cannot start (no Docker engine, an image that is missing and cannot be pulled).
        When ``cancelled()`` turns true (a kill or the task's timeout) it stops everything it
        started (SIGTERM, then SIGKILL after a grace period; a container is stopped and removed)
        and raises ``TaskFailed(engine.tasks.processes.STOPPED)``.
        """
