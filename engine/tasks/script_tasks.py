"""L2 adapter: Python, shell and Node ``Script`` / ``Commands`` tasks (Kestra's plugin-scripts).

One attempt (Kestra's ``CommandsWrapper``):

1. a working directory: the attempt's own, fresh and removed afterwards, or the shared folder of
   the WorkingDirectory the task runs in; an output directory inside it (``{{ outputDir }}``);
2. namespace files, ``inputFiles``, then the script file of a ``Script`` task;
3. the commands rendered with ``{{ workingDir }}`` and ``{{ outputDir }}`` (as the runner sees
   them), ``kestra://`` URIs downloaded and replaced by local paths, and joined into
   ``<interpreter> "set -e\\n<beforeCommands>\\n<commands>"`` (``set -e`` with ``failFast``);
4. the command run by the task runner (``engine.tasks.script_runners``) with the declared ``env``
   over a minimal base (PATH, HOME, locale, ``WORKING_DIR``, ``OUTPUT_DIR``), never the worker's
   settings; each output line parsed or logged as it comes (``engine.tasks.script_protocol``);
5. the exit code decides (Kestra 1.x): 0 is SUCCESS with the outputs ``vars``, ``exitCode`` and
   ``outputFiles``; anything else fails the task run with the exit code in its message.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.plugins.ext.scripts import CommandsTask, PackageManager, ScriptOptions, ScriptTask, TargetOS
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_list
from engine.tasks.script_dependencies import environment, find_python
from engine.tasks.script_files import (
    collect_output_files,
    copy_namespace_files,
    download_internal_uris,
    write_input_files,
)
from engine.tasks.script_protocol import ScriptLines
from engine.tasks.script_runner import ScriptJob, ScriptRunner
from engine.tasks.script_runners import choose_runner, container_image, is_docker

#: What a script gets from the worker's environment, when set there; nothing else of it.
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


@dataclass(frozen=True)
class Language:
    name: str
    extension: str
    program: str | None             # runs the script file; None: the script is the shell's text
    image: str                      # the default containerImage (Kestra 1.x)
    env: Mapping[str, str] = field(default_factory=dict)


PYTHON = Language("python", ".py", "python", "python:3.13-slim", {"PYTHONUNBUFFERED": "true"})
SHELL = Language("shell", ".sh", None, "ubuntu")
NODE = Language("node", ".js", "node", "node")


def run_python(options: ScriptOptions, ctx: RunContext) -> dict[str, Any]:
    return run_script(PYTHON, options, ctx)


def run_shell(options: ScriptOptions, ctx: RunContext) -> dict[str, Any]:
    return run_script(SHELL, options, ctx)


def run_node(options: ScriptOptions, ctx: RunContext) -> dict[str, Any]:
    return run_script(NODE, options, ctx)


@dataclass
class _Attempt:
    """The folders and names of one attempt, and the variables its properties are rendered with."""

    ctx: RunContext
    runner: ScriptRunner
    working_dir: Path
    output_dir: Path
    downloaded: dict[str, str] = field(default_factory=dict)

    @property
    def extra(self) -> dict[str, str]:
        return {"workingDir": self.runner.path_in_runner(self.working_dir),
                "outputDir": self.runner.path_in_runner(self.output_dir)}

    def render_all(self, values: list[str] | str | None) -> list[str]:
        """The command lines of ``values`` (a list, or a string that is one line or renders to a
        JSON array), each rendered once, with ``kestra://`` files downloaded."""
        if values is None:
            return []
        extra = self.extra
        if isinstance(values, str):
            rendered = self.ctx.render(values, extra=extra)
            texts = _json_list(rendered) if isinstance(rendered, str) else [rendered]
        else:
            texts = [self.ctx.render(value, extra=extra) for value in values]
        return [download_internal_uris(self.ctx, str(text), self.working_dir, self.runner.path_in_runner,
                                       self.downloaded)
                for text in texts]


def _json_list(text: str) -> list[Any]:
    if text.lstrip().startswith("["):
        try:
            found = json.loads(text)
        except json.JSONDecodeError:
            return [text]
        return found if isinstance(found, list) else [text]
    return [text]


def run_script(language: Language, options: ScriptOptions, ctx: RunContext) -> dict[str, Any]:
    if options.target_os is TargetOS.WINDOWS:
        raise TaskFailed("targetOS: WINDOWS needs a Windows worker; Podium's workers run Linux (set targetOS: "
                         "LINUX or AUTO)")
    runner = choose_runner(options, ctx)
    working_dir = ctx.working_dir
    output_dir = Path(tempfile.mkdtemp(prefix="outputs-", dir=working_dir))
    attempt = _Attempt(ctx, runner, working_dir, output_dir)
    copy_namespace_files(ctx, options.namespace_files, working_dir)
    write_input_files(ctx, options.input_files, working_dir, attempt.extra)
    env = _environment(options, attempt, language, in_container=is_docker(options, ctx))
    fresh_env: Path | None = None
    before = attempt.render_all(options.before_commands)
    deps = _dependencies(options, ctx)
    if deps and is_docker(options, ctx):
        before.insert(0, "python -m pip install --quiet --disable-pip-version-check "
                      + " ".join(shlex.quote(d) for d in deps))
    elif deps:
        fresh_env = _use_environment(options, ctx, deps, env)
    try:
        argv = _command(language, options, attempt, before)
        image = container_image(options, ctx, language.image)
        job = ScriptJob(tuple(argv), env, working_dir, output_dir, image)
        sink = ScriptLines(ctx)
        exit_code = runner.run(job, sink, lambda: ctx.is_cancelled)
    finally:
        if fresh_env is not None:
            shutil.rmtree(fresh_env, ignore_errors=True)
    if exit_code != 0:
        raise TaskFailed(f"Command failed with exit code {exit_code}")
    patterns = [str(p) for p in as_list(ctx, options.output_files, "outputFiles")] if options.output_files else []
    files = collect_output_files(ctx, patterns, working_dir, output_dir)
    return {"vars": sink.vars, "exitCode": exit_code, "outputFiles": files}


def _command(language: Language, options: ScriptOptions, attempt: _Attempt, before: list[str]) -> list[str]:
    if isinstance(options, ScriptTask):
        script = str(attempt.ctx.render(options.script, extra=attempt.extra))
        script = download_internal_uris(attempt.ctx, script, attempt.working_dir, attempt.runner.path_in_runner,
                                        attempt.downloaded)
        if language.program is None:
            main = [script]
        else:
            path = _script_file(attempt.working_dir, script, language.extension)
            main = [f"{language.program} {shlex.quote(attempt.runner.path_in_runner(path))}"]
    else:
        assert isinstance(options, CommandsTask)  # the specs give the script tasks no other options
        main = attempt.render_all(options.commands)
    fail_fast = ["set -e"] if options.fail_fast else []
    return [*options.interpreter, "\n".join([*fail_fast, *before, *main])]


def _script_file(folder: Path, script: str, extension: str) -> Path:
    handle, name = tempfile.mkstemp(prefix="script-", suffix=extension, dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(script)
    os.chmod(name, 0o644)  # read by a container's user too
    return Path(name)


def _environment(options: ScriptOptions, attempt: _Attempt, language: Language, *,
                 in_container: bool) -> dict[str, str]:
    # A container keeps its image's PATH and HOME: the worker's would point at nothing there.
    env = {} if in_container else {name: os.environ[name] for name in BASE_ENV if name in os.environ}
    if not in_container:
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(language.env)
    env["WORKING_DIR"], env["OUTPUT_DIR"] = attempt.extra["workingDir"], attempt.extra["outputDir"]
    declared = attempt.ctx.render(options.env or {}, extra=attempt.extra)
    if not isinstance(declared, Mapping):
        raise TaskFailed(f"env must be a map of names to values, got {type(declared).__name__}")
    env.update({str(name): "" if value is None else str(value) for name, value in declared.items()})
    return env


def _dependencies(options: ScriptOptions, ctx: RunContext) -> list[str]:
    raw = getattr(options, "dependencies", None)
    return [str(d).strip() for d in ctx.render(raw) if str(d).strip()] if raw else []


def _use_environment(options: ScriptOptions, ctx: RunContext, deps: list[str], env: dict[str, str]) -> Path | None:
    """Puts the cached environment of ``deps`` first on the script's PATH; returns the folder to
    remove afterwards when the cache is disabled."""
    cached = as_bool(ctx, getattr(options, "dependency_cache_enabled", None), "dependencyCacheEnabled") \
        if getattr(options, "dependency_cache_enabled", None) is not None else True
    manager = getattr(options, "package_manager", None)
    python = find_python(ctx.render_text(getattr(options, "python_version", None)))
    found = environment(deps, python=python, cache_dir=ctx.scripts.cache_dir, use_uv=manager is not PackageManager.PIP,
                        cached=cached, cancelled=lambda: ctx.is_cancelled)
    ctx.logger.debug(f"Python dependencies {'installed' if found.built else 'taken from the cache'}: {found.path}")
    env["PATH"] = f"{found.bin_dir}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(found.path)
    return None if cached else found.path
