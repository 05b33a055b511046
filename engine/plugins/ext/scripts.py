"""L1 pure core: script tasks (``io.kestra.plugin.scripts.{python,shell,node}``) and task runners.

Options models with the full property set of Kestra's script plugins; the tasks run in
``engine.tasks.script_tasks`` (docs/scripts.md), on the Process runner
(``engine.tasks.process_runner``) or the Docker one (``engine.tasks.docker_runner``).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec, TaskRunner
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.scripts."


class PullPolicy(str, Enum):
    IF_NOT_PRESENT = "IF_NOT_PRESENT"
    ALWAYS = "ALWAYS"
    NEVER = "NEVER"


class FileHandlingStrategy(str, Enum):
    VOLUME = "VOLUME"
    MOUNT = "MOUNT"


class TargetOS(str, Enum):
    AUTO = "AUTO"
    LINUX = "LINUX"
    WINDOWS = "WINDOWS"


class RunnerKind(str, Enum):
    PROCESS = "PROCESS"
    DOCKER = "DOCKER"


class PackageManager(str, Enum):
    UV = "UV"
    PIP = "PIP"


class Credentials(Options):
    registry: str | None = dynamic(None)
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)
    registry_token: str | None = dynamic(None)
    identity_token: str | None = dynamic(None)
    auth: str | None = dynamic(None)


class Cpu(Options):
    cpus: float | str | None = None


class Memory(Options):
    memory: str | None = None
    memory_swap: str | None = None
    memory_swappiness: str | int | None = None
    memory_reservation: str | None = None
    kernel_memory: str | None = None
    oom_kill_disable: bool | None = None


class DockerSettings(Options):
    """Container settings shared by the Docker task runner and the deprecated ``docker`` property."""

    image: str | None = dynamic(None, "Container image, e.g. python:3.12-slim.")
    host: str | None = dynamic(None, "Docker daemon URI; the local one by default.")
    config: str | dict[str, Any] | None = dynamic(None, "Docker config.json content (registry auth).")
    credentials: Credentials | None = None
    user: str | None = dynamic(None)
    entry_point: list[str] | None = dynamic(None)
    extra_hosts: list[str] | None = dynamic(None)
    network_mode: str | None = dynamic(None)
    volumes: list[str] | None = dynamic(None, "Bind mounts as host:container.")
    pull_policy: PullPolicy | None = None
    device_requests: list[dict[str, Any]] | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    shm_size: str | None = dynamic(None)
    privileged: bool | None = None


class DockerRunner(DockerSettings):
    type: str
    file_handling_strategy: FileHandlingStrategy = FileHandlingStrategy.VOLUME
    delete: bool = Field(True, description="Remove the container when the task ends.")
    wait: bool = True
    resume: bool = True
    kill_grace_period: str | None = None


class ProcessRunner(Options):
    type: str
    version: str | None = None


class NamespaceFiles(Options):
    enabled: bool = True
    include: list[str] | None = None
    exclude: list[str] | None = None
    namespaces: list[str] | None = None
    if_exists: str | None = None
    folder_per_namespace: bool | None = None


class ScriptOptions(TaskOptions):
    """Properties of every script task (Kestra's ``AbstractExecScript``)."""

    before_commands: list[str] | str | None = dynamic(None, "Commands run first (e.g. pip install).")
    interpreter: list[str] = Field(default_factory=lambda: ["/bin/sh", "-c"])
    fail_fast: bool = Field(True, description="Stop at the first failing command (set -e).")
    env: dict[str, str] | None = dynamic(None, "Extra environment variables.")
    warning_on_std_err: DynBool | None = dynamic(
        None, "Deprecated since Kestra 0.23 and ignored: only the exit code decides the state.")
    container_image: str | None = dynamic(None, "Image used by container task runners.")
    task_runner: TaskRunner | None = Field(None, description="Where the script runs (Docker by default).")
    runner: RunnerKind | None = Field(None, description="Deprecated: use taskRunner.")
    docker: DockerSettings | None = Field(None, description="Deprecated: use taskRunner.")
    namespace_files: NamespaceFiles | None = None
    input_files: dict[str, str] | str | None = dynamic(None, "Files to create in the working directory.")
    output_files: list[str] | None = dynamic(None, "Globs of files to keep as outputs.")
    output_directory: bool | None = Field(None, description="Deprecated: use {{ outputDir }}.")
    target_os: TargetOS = Field(TargetOS.AUTO, alias="targetOS", description="LINUX, WINDOWS or AUTO.")


class _PythonMixin(Options):
    dependencies: list[str] | None = Field(None, description="Python packages to install first.")
    python_version: str | None = None
    package_manager: PackageManager | None = None
    dependency_cache_enabled: bool | None = None


class ScriptTask(ScriptOptions):
    script: str = dynamic(..., "The inline script.", min_length=1)


class CommandsTask(ScriptOptions):
    commands: list[str] | str = dynamic(..., "Commands run in order.")

    @model_validator(mode="after")
    def _some_command(self) -> CommandsTask:
        if isinstance(self.commands, list) and not self.commands:
            raise ValueError("'commands' must not be empty")
        return self


class PythonScript(_PythonMixin, ScriptTask):
    pass


class PythonCommands(_PythonMixin, CommandsTask):
    pass


def _task(name: str, model: type[TaskOptions], title: str, example: str) -> PluginSpec:
    language = name.split(".", 1)[0]
    return PluginSpec(type=PREFIX + name, kind=PluginKind.RUNNABLE, options=model, title=title,
                      examples=(example,), implementation=f"engine.tasks.script_tasks:run_{language}")


SPECS: list[PluginSpec] = [
    _task("python.Script", PythonScript, "Run an inline Python script.",
          "id: hello\ntype: io.kestra.plugin.scripts.python.Script\nscript: print('hello')"),
    _task("python.Commands", PythonCommands, "Run Python commands.",
          "id: etl\ntype: io.kestra.plugin.scripts.python.Commands\ncommands:\n  - python etl.py"),
    _task("shell.Script", ScriptTask, "Run an inline shell script.",
          "id: hello\ntype: io.kestra.plugin.scripts.shell.Script\nscript: echo hello"),
    _task("shell.Commands", CommandsTask, "Run shell commands.",
          "id: list\ntype: io.kestra.plugin.scripts.shell.Commands\ncommands:\n  - ls -la"),
    _task("node.Script", ScriptTask, "Run an inline Node.js script.",
          "id: hello\ntype: io.kestra.plugin.scripts.node.Script\nscript: console.log('hello')"),
    _task("node.Commands", CommandsTask, "Run Node.js commands.",
          "id: app\ntype: io.kestra.plugin.scripts.node.Commands\ncommands:\n  - node app.js"),
    PluginSpec(type=PREFIX + "runner.docker.Docker", kind=PluginKind.TASK_RUNNER, options=DockerRunner,
               title="Run script tasks in a Docker container.", implemented=True,
               examples=("type: io.kestra.plugin.scripts.runner.docker.Docker\nimage: python:3.12-slim",)),
    PluginSpec(type="io.kestra.plugin.core.runner.Process", kind=PluginKind.TASK_RUNNER,
               options=ProcessRunner, title="Run script tasks as local processes.",
               examples=("type: io.kestra.plugin.core.runner.Process",)),
]
