"""The Docker task runner through its contract (engine/tasks/script_runner.py), against a real,
private Docker engine and locally built images (tests/docker/conftest.py)."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.plugins.ext.scripts import DockerRunner, DockerSettings
from engine.tasks.docker_runner import DockerScriptRunner
from engine.tasks.outcome import TaskFailed
from engine.tasks.processes import STOPPED
from engine.tasks.script_runner import ScriptJob
from tests.docker_engine import DockerEngine

RUNNER_TYPE = "io.kestra.plugin.scripts.runner.docker.Docker"


class Lines:
    """A LineSink that keeps what it is given, and can act on one line as it arrives."""

    def __init__(self, on_line: Any = None) -> None:
        self.lines: list[tuple[bool, str]] = []
        self.on_line = on_line

    def line(self, text: str, *, stderr: bool) -> None:
        self.lines.append((stderr, text))
        if self.on_line is not None:
            self.on_line(text)

    def text(self) -> list[str]:
        return [text for _, text in self.lines]


def make_job(tmp_path: Path, command: str, image: str | None, env: dict[str, str] | None = None,
             argv: tuple[str, ...] | None = None) -> ScriptJob:
    working = tmp_path / "work"
    working.mkdir(exist_ok=True)
    return ScriptJob(argv=argv or ("/bin/sh", "-c", command), env=env or {}, working_dir=working,
                     output_dir=working / "out", container_image=image)


def make_runner(engine: DockerEngine | None, host: str | None = None, volumes_enabled: bool = False,
                **options: Any) -> DockerScriptRunner:
    options.setdefault("network_mode", "none")      # the private engine has no bridge network
    model = DockerRunner(type=RUNNER_TYPE, **options)
    return DockerScriptRunner(model, default_host=host or (engine.host if engine else None),
                              volumes_enabled=volumes_enabled)


def never() -> bool:
    return False


def test_lines_stream_in_order_with_stdout_and_stderr_apart(docker_engine: DockerEngine, busybox: str,
                                                            tmp_path: Path) -> None:
    sink = Lines()
    command = "echo one; sleep 0.3; echo two >&2; sleep 0.3; printf 'three\\nfour'"
    code = make_runner(docker_engine).run(make_job(tmp_path, command, busybox), sink, never)
    assert code == 0
    assert sink.lines == [(False, "one"), (True, "two"), (False, "three"), (False, "four")]


def test_a_line_reaches_the_sink_while_the_container_runs(docker_engine: DockerEngine, busybox: str,
                                                          tmp_path: Path) -> None:
    # The command waits for a file the sink writes when it sees the first line: the run can
    # only end if that line was handed over while the container was still running.
    job = make_job(tmp_path, "echo first; i=0; while [ ! -f seen ] && [ $i -lt 300 ]; do sleep 0.1; "
                             "i=$((i+1)); done; [ -f seen ] && echo second", busybox)
    sink = Lines(on_line=lambda text: (job.working_dir / "seen").touch() if text == "first" else None)
    code = make_runner(docker_engine, file_handling_strategy="MOUNT").run(job, sink, never)
    assert (code, sink.text()) == (0, ["first", "second"])


def test_the_exit_code_is_returned(docker_engine: DockerEngine, busybox: str, tmp_path: Path) -> None:
    assert make_runner(docker_engine).run(make_job(tmp_path, "exit 3", busybox), Lines(), never) == 3


@pytest.mark.parametrize("strategy", ["VOLUME", "MOUNT"])
def test_files_written_in_the_container_come_back(docker_engine: DockerEngine, busybox: str,
                                                  tmp_path: Path, strategy: str) -> None:
    job = make_job(tmp_path, "mkdir -p out sub && tr a-z A-Z < in.txt > out.csv && echo x > sub/deep.txt "
                             "&& echo o > out/o.txt && pwd", busybox, env={"WORKING_DIR": ""})
    (job.working_dir / "in.txt").write_text("a,b\n")
    sink = Lines()
    code = make_runner(docker_engine, file_handling_strategy=strategy).run(job, sink, never)
    assert code == 0
    assert sink.text() == [str(job.working_dir)]           # the same path as on the worker
    assert (job.working_dir / "out.csv").read_text() == "A,B\n"
    assert (job.working_dir / "sub" / "deep.txt").read_text() == "x\n"
    assert (job.output_dir / "o.txt").read_text() == "o\n"
    assert docker_engine.containers() == []


def test_files_come_back_from_a_failed_run_too(docker_engine: DockerEngine, busybox: str, tmp_path: Path) -> None:
    job = make_job(tmp_path, "echo partial > part.txt; exit 2", busybox)
    assert make_runner(docker_engine).run(job, Lines(), never) == 2
    assert (job.working_dir / "part.txt").read_text() == "partial\n"


def test_an_output_dir_outside_the_working_dir_is_shared_too(docker_engine: DockerEngine, busybox: str,
                                                             tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    job = make_job(tmp_path, f"echo r > {outside}/result.txt", busybox)
    job = ScriptJob(job.argv, job.env, job.working_dir, outside, job.container_image)
    assert make_runner(docker_engine).run(job, Lines(), never) == 0
    assert (outside / "result.txt").read_text() == "r\n"


def test_a_kill_mid_run_stops_and_removes_the_container(docker_engine: DockerEngine, busybox: str,
                                                        tmp_path: Path) -> None:
    started = threading.Event()
    sink = Lines(on_line=lambda text: started.set())
    job = make_job(tmp_path, "echo started; sleep 600", busybox)
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            make_runner(docker_engine).run(job, sink, started.is_set)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)                     # a hang, not a speed: the kill is asked as soon as it starts
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), TaskFailed) and str(outcome["error"]) == STOPPED
    assert docker_engine.containers() == []


def test_delete_false_keeps_the_container(docker_engine: DockerEngine, busybox: str, tmp_path: Path) -> None:
    assert make_runner(docker_engine, delete=False).run(make_job(tmp_path, "true", busybox), Lines(), never) == 0
    kept = docker_engine.containers()
    assert len(kept) == 1
    docker_engine.cli("rm", "-f", *kept)


def test_pull_policy_never_with_a_missing_image_is_a_clear_error(docker_engine: DockerEngine,
                                                                 tmp_path: Path) -> None:
    runner = make_runner(docker_engine, pull_policy="NEVER")
    with pytest.raises(TaskFailed) as error:
        runner.run(make_job(tmp_path, "true", "podium-test/absent:1"), Lines(), never)
    message = str(error.value)
    assert "'podium-test/absent:1' is not on the Docker engine" in message and "pullPolicy is NEVER" in message
    assert "\n" not in message


def test_a_missing_image_that_cannot_be_pulled_is_a_clear_error(docker_engine: DockerEngine,
                                                                tmp_path: Path) -> None:
    # A registry on a closed port of this machine: the pull fails at once, without a network.
    with pytest.raises(TaskFailed) as error:
        make_runner(docker_engine).run(make_job(tmp_path, "true", "127.0.0.1:9/absent:1"), Lines(), never)
    message = str(error.value)
    assert message.startswith("taskRunner: image '127.0.0.1:9/absent:1' is not on the Docker engine")
    assert "could not be pulled" in message and "connection refused" in message and "\n" not in message


def test_the_worker_environment_never_reaches_the_container(docker_engine: DockerEngine, busybox: str,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_DATABASE_URL", "postgresql://user:hunter2@db/podium")
    monkeypatch.setenv("SECRET_TOKEN", "c2VjcmV0")
    sink = Lines()
    job = make_job(tmp_path, "env", busybox, env={"GIVEN": "yes"})
    assert make_runner(docker_engine).run(job, sink, never) == 0
    names = {text.split("=", 1)[0] for text in sink.text()}
    assert "GIVEN=yes" in sink.text()
    # Docker itself adds these four; nothing else but what the job gives.
    assert names <= {"GIVEN", "PATH", "HOME", "HOSTNAME", "PWD", "SHLVL"}
    assert not any("hunter2" in text or "c2VjcmV0" in text for text in sink.text())


def test_a_memory_limit_is_enforced(docker_engine: DockerEngine, busybox: str, tmp_path: Path) -> None:
    command = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo fits"
    unlimited = Lines()
    assert make_runner(docker_engine).run(make_job(tmp_path, command, busybox), unlimited, never) == 0
    limited = make_runner(docker_engine, memory={"memory": "16MB", "memorySwap": "16MB"})
    assert limited.run(make_job(tmp_path, command, busybox), Lines(), never) != 0


def test_the_options_reach_the_container(docker_engine: DockerEngine, busybox: str, tmp_path: Path) -> None:
    runner = make_runner(docker_engine, delete=False, user="65534", cpu={"cpus": 0.5}, shm_size="32MB",
                         extra_hosts=["db.local:10.1.2.3"], network_mode="host",
                         entry_point=["/bin/sh", "-c"])
    sink = Lines()
    job = make_job(tmp_path, "", busybox, argv=("id -u; grep db.local /etc/hosts; echo m > mine.txt",))
    assert runner.run(job, sink, never) == 0
    assert (job.working_dir / "mine.txt").read_text() == "m\n"      # the copied folder is the user's
    (container,) = docker_engine.containers()
    config = json.loads(docker_engine.cli("inspect", container))[0]
    docker_engine.cli("rm", "-f", container)
    assert sink.text()[0] == "65534" and sink.text()[1].split() == ["10.1.2.3", "db.local"]
    host = config["HostConfig"]
    assert (host["NanoCpus"], host["ShmSize"], host["NetworkMode"]) == (500_000_000, 32 << 20, "host")
    assert config["Config"]["Entrypoint"] == ["/bin/sh", "-c"]


def test_the_deprecated_docker_property_and_its_image(docker_engine: DockerEngine, busybox: str,
                                                      tmp_path: Path) -> None:
    # As in Kestra, docker.image wins over the task's containerImage.
    runner = DockerScriptRunner(DockerSettings(image=busybox, network_mode="none"), default_host=docker_engine.host)
    sink = Lines()
    assert runner.run(make_job(tmp_path, "echo ok", "podium-test/absent:1"), sink, never) == 0
    assert sink.text() == ["ok"]


def test_volumes_are_refused_unless_the_worker_allows_them(docker_engine: DockerEngine, busybox: str,
                                                           tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("from the host\n")
    volumes = [f"{shared}:/data:ro"]
    with pytest.raises(TaskFailed, match=r"^taskRunner.volumes: host volumes are disabled on this worker; .*"
                                         r"scripts.docker_volumes_enabled"):
        make_runner(docker_engine, volumes=volumes).run(make_job(tmp_path, "true", busybox), Lines(), never)
    sink = Lines()
    runner = make_runner(docker_engine, volumes=volumes, volumes_enabled=True)
    assert runner.run(make_job(tmp_path, "cat /data/data.txt", busybox), sink, never) == 0
    assert sink.text() == ["from the host"]


def test_a_python_script_in_a_python_image(docker_engine: DockerEngine, python_in_docker: str,
                                           tmp_path: Path) -> None:
    job = make_job(tmp_path, "", python_in_docker, env={"NAME": "podium", "PYTHONUNBUFFERED": "true"},
                   argv=("python", "script.py"))
    (job.working_dir / "script.py").write_text(
        "import json, os, sys\n"
        "open('out.json', 'w').write(json.dumps({'name': os.environ['NAME']}))\n"
        "print('::' + json.dumps({'outputs': {'n': 42}}) + '::')\n"
        "print('é', file=sys.stderr)\n")
    sink = Lines()
    assert make_runner(docker_engine).run(job, sink, never) == 0
    # Two pipes: the order within each is kept, not across them (the sleeps of the first test).
    assert sorted(sink.lines) == [(False, '::{"outputs": {"n": 42}}::'), (True, "é")]
    assert json.loads((job.working_dir / "out.json").read_text()) == {"name": "podium"}


@pytest.mark.parametrize("user", ["65534:65534", "nobody"])
def test_a_user_other_than_root_writes_in_its_working_dir(docker_engine: DockerEngine, busybox: str,
                                                          tmp_path: Path, user: str) -> None:
    job = make_job(tmp_path, "cat in.txt > copy.txt && id -un", busybox)
    (job.working_dir / "in.txt").write_text("data\n")
    sink = Lines()
    assert make_runner(docker_engine, user=user).run(job, sink, never) == 0
    assert sink.text() == ["nobody"]
    assert (job.working_dir / "copy.txt").read_text() == "data\n"


def test_links_out_of_the_working_dir_do_not_come_back(docker_engine: DockerEngine, busybox: str,
                                                       tmp_path: Path) -> None:
    # The container's files are untrusted: a link to the worker's files must not reach the host
    # directory, where outputFiles would read through it; the rest comes back.
    job = make_job(tmp_path, "ln -s /etc/passwd abs && ln -s ../../../.. up && ln -s data.txt near "
                             "&& echo kept > data.txt && mknod dev c 1 3", busybox)
    assert make_runner(docker_engine).run(job, Lines(), never) == 0
    assert sorted(path.name for path in job.working_dir.iterdir()) == ["data.txt", "near"]
    assert (job.working_dir / "near").read_text() == "kept\n"
