"""L2 adapter: the Docker task runner (``io.kestra.plugin.scripts.runner.docker.Docker``).

A script task's command runs in a fresh container of its ``containerImage`` (the deprecated
``docker.image`` wins when set, as in Kestra), talking to a Docker engine through the ``docker``
SDK: the runner's ``host``, else the worker's ``scripts.docker_host`` setting, else ``DOCKER_HOST``,
else the local socket.

As in Kestra, the command sees the working directory at the same path as the worker does
(``path_in_runner`` is the identity): with ``fileHandlingStrategy: VOLUME`` (the default) the
directory is copied into the container before it starts and back when it ends
(engine/tasks/docker_files.py); with ``MOUNT`` it is bind-mounted. The container gets the job's
environment only, never the worker's.

Each line the command prints reaches the task's sink while it runs: a thread reads the attached
stream and a queue hands the lines to the task's own thread, which also watches ``cancelled()``.
On a kill or a timeout the container is killed (or stopped with ``killGracePeriod``) and removed
at once; on any end it is removed unless ``delete: false``.
"""
from __future__ import annotations

import codecs
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.plugins.ext.scripts import DockerSettings, PullPolicy
from engine.tasks.docker_files import pack, same_or_inside, unpack
from engine.tasks.docker_options import RunnerOptions, field_prefix, runner_options
from engine.tasks.outcome import TaskFailed
from engine.tasks.processes import STOPPED
from engine.tasks.script_runner import LineSink, ScriptJob

HOST_SETTING = "scripts.docker_host (PODIUM_SCRIPTS__DOCKER_HOST)"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
#: Lets a stop find the containers it may have left (``docker ps --filter label=...``).
LABEL = "io.podium.task-runner"
_POLL_SECONDS = 0.05
_API_TIMEOUT = 60
#: Longest line handed to the sink at once; a longer one comes in pieces.
MAX_LINE_CHARS = 1 << 20
_END = None


class DockerScriptRunner:
    """Runs a :class:`ScriptJob` in a Docker container (Kestra's Docker task runner)."""

    def __init__(self, options: DockerSettings | None, *, default_host: str | None = None,
                 volumes_enabled: bool = False) -> None:
        self.options = options
        self.default_host = default_host
        self.volumes_enabled = volumes_enabled

    def path_in_runner(self, host_path: Path) -> str:
        return str(host_path)

    def run(self, job: ScriptJob, sink: LineSink, cancelled: Callable[[], bool]) -> int:
        options = runner_options(self.options, job.container_image, volumes_enabled=self.volumes_enabled)
        host = self._host()
        api = _connect(host)
        try:
            return _Run(api, options, job, field_prefix(self.options), host).run(sink, cancelled)
        except _docker_errors() as error:
            raise TaskFailed(f"the Docker engine at {_host_name(host)} failed: {_reason(error)}") from None
        finally:
            api.close()

    def _host(self) -> str | None:
        return (self.options.host if self.options is not None else None) or self.default_host or None


class _Run:
    """One container's life: create (pulling as the pull policy says), copy in, start, stream,
    wait, copy back, remove."""

    def __init__(self, api: Any, options: RunnerOptions, job: ScriptJob, where: str, host: str | None) -> None:
        self.api, self.options, self.job, self.where, self.host = api, options, job, where, host
        self.folders = _folders(job)

    def run(self, sink: LineSink, cancelled: Callable[[], bool]) -> int:
        container = self._create(cancelled)
        finished = False
        try:
            code = self._attach_and_wait(container, sink, cancelled)
            finished = True
        finally:
            self._end(container, finished)
        return code

    def _create(self, cancelled: Callable[[], bool]) -> str:
        from docker.errors import ImageNotFound

        if self.options.pull_policy == PullPolicy.ALWAYS:
            self._pull(cancelled)
        try:
            return self._create_container()
        except ImageNotFound:
            if self.options.pull_policy != PullPolicy.IF_NOT_PRESENT:
                raise TaskFailed(f"{self.where}: image {self.options.image!r} is not on the Docker engine at "
                                 f"{_host_name(self.host)} and pullPolicy is NEVER; build or load it there "
                                 "(docker build, docker load), or set pullPolicy: IF_NOT_PRESENT") from None
        self._pull(cancelled)
        return self._create_container()

    def _create_container(self) -> str:
        from docker.errors import APIError, ImageNotFound

        binds = [f"{folder}:{folder}:rw" for folder in self.folders] if self.options.mount else []
        host_config = self.api.create_host_config(binds=[*binds, *self.options.binds] or None,
                                                  **self.options.host)
        try:
            created = self.api.create_container(
                self.options.image, command=list(self.job.argv), environment=dict(self.job.env),
                working_dir=str(self.job.working_dir), labels={LABEL: "docker"}, host_config=host_config,
                detach=True, stdin_open=False, tty=False, **self.options.create)
        except ImageNotFound:
            raise
        except APIError as error:
            raise TaskFailed(f"{self.where}: Docker refused to create the container: {_reason(error)}; "
                             "check the runner's options (networkMode, user, volumes...)") from None
        return str(created["Id"])

    def _pull(self, cancelled: Callable[[], bool]) -> None:
        from docker.errors import APIError
        from docker.utils import parse_repository_tag

        repository, tag = parse_repository_tag(self.options.image)
        failure = None
        try:
            for event in self.api.pull(repository, tag=tag or "latest", stream=True, decode=True,
                                       auth_config=self.options.auth):
                if cancelled():
                    raise TaskFailed(STOPPED)
                if isinstance(event, dict) and event.get("error"):
                    failure = str(event["error"])
                    break
        except APIError as error:
            failure = _reason(error)
        if failure is not None:
            raise TaskFailed(f"{self.where}: image {self.options.image!r} is not on the Docker engine at "
                             f"{_host_name(self.host)} and could not be pulled ({_one_line(failure)}); check "
                             "the image name and registry credentials, or load the image on the engine and set "
                             "pullPolicy: NEVER")

    def _attach_and_wait(self, container: str, sink: LineSink, cancelled: Callable[[], bool]) -> int:
        sent = not self.options.mount and bool(self.options.user or _anything_to_copy(self.folders))
        if sent:
            with pack(self.folders, self.options.user) as archive:
                self.api.put_archive(container, "/", archive)
        if cancelled():
            raise TaskFailed(STOPPED)
        stream = self.api.attach(container, stdout=True, stderr=True, stream=True, demux=True)
        try:
            self.api.start(container)
            _relay(stream, sink, cancelled)
        finally:
            stream.close()
        code = int(self.api.wait(container)["StatusCode"])
        if not self.options.mount:
            self._copy_back(container, sent)
        return code

    def _copy_back(self, container: str, sent: bool) -> None:
        from docker.errors import NotFound

        folders = self.folders
        if not sent:
            # Nothing was copied in, so the container's changes (read from its own layer, far
            # cheaper than an archive) say whether the command wrote anything there at all.
            changed = [str(change["Path"]) for change in self.api.diff(container) or ()]
            folders = [folder for folder in folders
                       if any(path.startswith(f"{folder}/") for path in changed)]
        for folder in folders:
            try:
                chunks, _ = self.api.get_archive(container, str(folder))
            except NotFound:
                continue                # an output folder that nobody made
            folder.mkdir(parents=True, exist_ok=True)
            unpack(chunks, folder)

    def _end(self, container: str, finished: bool) -> None:
        """Stops what still runs (a kill, a timeout, an error) and removes the container."""
        from docker.errors import APIError

        try:
            if not finished and self.options.kill_grace > 0:
                self.api.stop(container, timeout=max(1, round(self.options.kill_grace)))
            elif not finished and not self.options.delete:
                self.api.kill(container)
        except APIError:
            pass                        # it ended by itself meanwhile
        finally:
            if self.options.delete:
                with contextlib.suppress(APIError):
                    self.api.remove_container(container, force=True)


def _relay(stream: Iterable[tuple[bytes | None, bytes | None]], sink: LineSink,
           cancelled: Callable[[], bool]) -> None:
    """Hands the stream's lines to ``sink`` on this thread until it ends; raises
    ``TaskFailed(STOPPED)`` as soon as ``cancelled()``."""
    lines: queue.SimpleQueue[tuple[bool, str] | None] = queue.SimpleQueue()
    reader = threading.Thread(target=_read, args=(stream, lines), name="docker-logs", daemon=True)
    reader.start()
    while True:
        try:
            item = lines.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if cancelled():
                raise TaskFailed(STOPPED) from None
            continue
        if item is _END:
            return
        sink.line(item[1], stderr=item[0])
        if cancelled():
            raise TaskFailed(STOPPED)


def _read(stream: Iterable[tuple[bytes | None, bytes | None]],
          lines: queue.SimpleQueue[tuple[bool, str] | None]) -> None:
    splitters = {False: _Lines(), True: _Lines()}
    try:
        for out, err in stream:
            for is_err, data in ((False, out), (True, err)):
                if data:
                    for line in splitters[is_err].feed(data):
                        lines.put((is_err, line))
    except Exception:  # noqa: BLE001 - the stream ends when a stop removes the container
        pass
    finally:
        for is_err, splitter in splitters.items():
            rest = splitter.rest()
            if rest is not None:
                lines.put((is_err, rest))
        lines.put(_END)


class _Lines:
    """Splits one stream's bytes into lines, decoding UTF-8 across chunk boundaries."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buffer = ""

    def feed(self, data: bytes) -> Iterator[str]:
        self.buffer += self.decoder.decode(data)
        *complete, self.buffer = self.buffer.split("\n")
        for line in complete:
            yield line.removesuffix("\r")
        while len(self.buffer) > MAX_LINE_CHARS:
            yield self.buffer[:MAX_LINE_CHARS]
            self.buffer = self.buffer[MAX_LINE_CHARS:]

    def rest(self) -> str | None:
        self.buffer += self.decoder.decode(b"", final=True)
        return self.buffer.removesuffix("\r") if self.buffer else None


def _folders(job: ScriptJob) -> list[Path]:
    working = Path(job.working_dir).resolve()
    output = Path(job.output_dir).resolve()
    return [working] if same_or_inside(output, working) else [working, output]


def _anything_to_copy(folders: list[Path]) -> bool:
    # Docker makes the working directory itself (working_dir of the container, owned by root);
    # each copy costs the engine a mount of the container's filesystem, so an empty one is not
    # sent unless the command runs as another user.
    return len(folders) > 1 or any(True for _ in folders[0].iterdir())


def _connect(host: str | None) -> Any:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise TaskFailed("the Docker task runner needs the docker package on the worker: "
                         "pip install 'podium[docker]', or use taskRunner type io.kestra.plugin.core.runner.Process"
                         ) from None
    try:
        if host:
            return docker.APIClient(base_url=host, version="auto", timeout=_API_TIMEOUT)
        return docker.APIClient(version="auto", timeout=_API_TIMEOUT, **docker.utils.kwargs_from_env())
    except DockerException as error:
        raise TaskFailed(f"no Docker engine answers at {_host_name(host)} ({_reason(error)}); start one, or "
                         f"point the task runner's host, the worker setting {HOST_SETTING} or DOCKER_HOST to "
                         "one, or use taskRunner type io.kestra.plugin.core.runner.Process") from None


def _docker_errors() -> tuple[type[BaseException], ...]:
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    return (DockerException, RequestException)


def _host_name(host: str | None) -> str:
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def _reason(error: BaseException) -> str:
    explanation = getattr(error, "explanation", None)
    text = str(explanation or error)
    return _one_line(text.removeprefix("Error while fetching server API version: "))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."
