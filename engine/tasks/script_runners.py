"""L2 adapter: which task runner a script task runs on, and its container image.

In order: the task's ``taskRunner`` (``io.kestra.plugin.core.runner.Process`` or
``io.kestra.plugin.scripts.runner.docker.Docker``), the deprecated ``runner: PROCESS|DOCKER``
(with the deprecated ``docker:`` settings), else the worker's ``scripts.default_runner``
(PROCESS unless set: Kestra's default is Docker, which a laptop may not have; docs/scripts.md).

The Docker runner (``engine.tasks.docker_runner``) is imported only when a task needs it, so a
worker without the ``docker`` SDK runs Process tasks, and a Docker task fails with a clear message.
"""
from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from engine.plugins.ext.scripts import DockerRunner, DockerSettings, ProcessRunner, RunnerKind, ScriptOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.process_runner import ProcessScriptRunner
from engine.tasks.script_runner import ScriptRunner

DOCKER_MODULE = "engine.tasks.docker_runner"
PROCESS_HINT = ("use `taskRunner: {type: io.kestra.plugin.core.runner.Process}` or the setting "
                "scripts.default_runner: PROCESS")


def is_docker(options: ScriptOptions, ctx: RunContext) -> bool:
    """Whether the task runs in a container (its Python dependencies are then installed there)."""
    if options.task_runner is not None:
        return not isinstance(options.task_runner, ProcessRunner)
    if options.runner is not None:
        return options.runner is RunnerKind.DOCKER
    return ctx.scripts.runner == RunnerKind.DOCKER.value


def choose_runner(options: ScriptOptions, ctx: RunContext) -> ScriptRunner:
    if not is_docker(options, ctx):
        return ProcessScriptRunner()
    settings: BaseModel = options.task_runner if isinstance(options.task_runner, DockerRunner) \
        else options.docker or DockerSettings()
    return _docker_runner(_rendered(settings, ctx), ctx)


def container_image(options: ScriptOptions, ctx: RunContext, default: str) -> str:
    """``containerImage``, else the deprecated ``docker.image``, else the language's image."""
    image = ctx.render_text(options.container_image)
    if not image and options.docker is not None:
        image = ctx.render_text(options.docker.image)
    return image or default


def _rendered(model: BaseModel, ctx: RunContext) -> BaseModel:
    """``model`` with its dynamic properties rendered (a taskRunner's host, volumes, user...)."""
    raw: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        return type(model).model_validate(ctx.render(raw))
    except ValueError as error:
        raise TaskFailed(f"taskRunner: {error}".splitlines()[0]) from None


def _docker_runner(options: BaseModel, ctx: RunContext) -> ScriptRunner:
    try:
        module = importlib.import_module(DOCKER_MODULE)
    except ImportError as error:
        raise TaskFailed(f"the Docker task runner is not available on this worker ({error}); "
                         f"{PROCESS_HINT}") from None
    runner: ScriptRunner = module.DockerScriptRunner(options, default_host=ctx.scripts.docker_host,
                                                       volumes_enabled=ctx.scripts.docker_volumes_enabled)
    return runner
