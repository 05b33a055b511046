"""The Docker task runner's one-line errors that need no Docker engine: a bad option, no image,
no engine reachable. They run wherever the docker SDK is installed."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.plugins.ext.scripts import DockerRunner, DockerSettings
from engine.tasks.docker_options import size
from engine.tasks.docker_runner import DockerScriptRunner
from engine.tasks.outcome import TaskFailed
from engine.tasks.script_runner import ScriptJob

pytest.importorskip("docker")
RUNNER_TYPE = "io.kestra.plugin.scripts.runner.docker.Docker"


def job(tmp_path: Path, image: str | None = "busybox") -> ScriptJob:
    return ScriptJob(("/bin/sh", "-c", "true"), {}, tmp_path, tmp_path / "out", image)


def runner_model(**options: object) -> DockerRunner:
    return DockerRunner.model_validate({"type": RUNNER_TYPE, **options})


def never() -> bool:
    return False


class Nothing:
    def line(self, text: str, *, stderr: bool) -> None:
        raise AssertionError("no line expected")


def fail(runner: DockerScriptRunner, tmp_path: Path, image: str | None = "busybox") -> str:
    with pytest.raises(TaskFailed) as error:
        runner.run(job(tmp_path, image), Nothing(), never)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_no_engine_reachable_names_the_settings_that_point_to_one(tmp_path: Path) -> None:
    runner = DockerScriptRunner(runner_model(), default_host=f"unix://{tmp_path}/none.sock")
    message = fail(runner, tmp_path)
    assert message.startswith(f"no Docker engine answers at unix://{tmp_path}/none.sock (")
    assert "scripts.docker_host (PODIUM_SCRIPTS__DOCKER_HOST)" in message and "DOCKER_HOST" in message
    assert "io.kestra.plugin.core.runner.Process" in message


def test_the_runner_host_wins_over_the_worker_setting(tmp_path: Path) -> None:
    options = runner_model(host=f"unix://{tmp_path}/task.sock")
    runner = DockerScriptRunner(options, default_host=f"unix://{tmp_path}/worker.sock")
    assert f"answers at unix://{tmp_path}/task.sock" in fail(runner, tmp_path)


def test_an_engine_given_by_docker_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/env.sock")
    runner = DockerScriptRunner(runner_model(), default_host=None)
    assert f"answers at unix://{tmp_path}/env.sock" in fail(runner, tmp_path)


def test_no_image_at_all(tmp_path: Path) -> None:
    message = fail(DockerScriptRunner(runner_model()), tmp_path, image=None)
    assert message.startswith("taskRunner: the Docker task runner needs an image; set the task's containerImage")


@pytest.mark.parametrize(("options", "expected"), [
    ({"memory": {"memory": "lots"}}, "taskRunner.memory.memory: 'lots' is not a size; write bytes or a number"),
    ({"shm_size": "1XB"}, "taskRunner.shmSize: '1XB' is not a size"),
    ({"cpu": {"cpus": "many"}}, "taskRunner.cpu.cpus: 'many' is not a number of CPUs"),
    ({"kill_grace_period": "5 seconds"}, "taskRunner.killGracePeriod: '5 seconds' is not an ISO-8601 duration"),
    ({"privileged": True}, "taskRunner.privileged: a privileged container controls the whole host"),
])
def test_a_bad_option_is_named(tmp_path: Path, options: dict[str, object], expected: str) -> None:
    runner = DockerScriptRunner(runner_model(**options), default_host="unix:///nowhere")
    assert fail(runner, tmp_path).startswith(expected)


def test_the_deprecated_docker_property_is_named_as_written(tmp_path: Path) -> None:
    runner = DockerScriptRunner(DockerSettings(image="busybox", volumes=["/:/host"]))
    assert fail(runner, tmp_path).startswith("docker.volumes: host volumes are disabled on this worker")


@pytest.mark.parametrize(("text", "expected"), [
    ("512MB", 512 << 20), ("512Mb", 512 << 20), ("1g", 1 << 30), ("64k", 64 << 10), ("1048576", 1 << 20),
    ("1.5GB", 3 << 29), ("2GiB", 2 << 30)])
def test_sizes_as_kestra_reads_them(text: str, expected: int) -> None:
    assert size(text, "x") == expected
