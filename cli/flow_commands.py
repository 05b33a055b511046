"""L4: ``podium flow ...``: commands on flow files (``podium flow validate FILE|DIR...``)."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from cli.client import load_registry
from engine.loader import validate_source
from engine.model.flow import Flow
from engine.plugins.base import Registry
from engine.settings import load_settings
from engine.validation import Position, Problem

FLOW_SUFFIXES = (".yaml", ".yml")


@click.group("flow")
def flow_group() -> None:
    """Check and inspect flow files."""


@flow_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--worker-group", "worker_groups", multiple=True, metavar="NAME",
              help="A worker group that exists besides the configured worker queues (repeatable).")
def validate_command(paths: tuple[Path, ...], worker_groups: tuple[str, ...]) -> None:
    """Check flow files: every problem of every file at once, with file:line:column.

    PATHS are flow files or folders (searched recursively for .yaml and .yml files). Exits 0 when
    every flow is valid, 1 otherwise (the problems go to stderr).
    """
    try:
        code = _validate(paths, worker_groups)
    except Exception as err:  # never a traceback for the user; say what broke instead
        click.echo(f"error: validation stopped unexpectedly: {type(err).__name__}: {err}", err=True)
        code = 2
    sys.exit(code)


def _validate(paths: tuple[Path, ...], extra_groups: tuple[str, ...]) -> int:
    registry = load_registry()
    global_defaults, queues = _settings()
    files, problems = find_flow_files(paths)
    flows: list[tuple[Path, Flow]] = []
    failed: set[Path] = set()
    for file in files:
        found, file_problems = _check_file(file, registry, global_defaults, [*queues, *extra_groups])
        flows += [(file, flow) for flow in found]
        problems += file_problems
        if file_problems:
            failed.add(file)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem{'s' * (len(problems) != 1)} in "
                   f"{len(failed) or 1} of {len(files)} file{'s' * (len(files) != 1)}", err=True)
        return 1
    for file, flow in flows:
        click.echo(f"ok  {file}  {flow.namespace}.{flow.id}")
    click.echo(f"{len(flows)} flow{'s' * (len(flows) != 1)} valid in {len(files)} "
               f"file{'s' * (len(files) != 1)}")
    return 0


def find_flow_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The flow files named by ``paths`` (folders searched recursively), and missing paths."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file())
            if not found:
                problems.append(Problem(str(path), Position(1, 1), "",
                                        "no .yaml or .yml file in this folder"))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), Position(1, 1), "", "no such file or folder"))
    return files, problems


def _check_file(file: Path, registry: Registry, global_defaults: list[dict[str, Any]],
                worker_groups: list[str]) -> tuple[list[Flow], list[Problem]]:
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [], [Problem(str(file), Position(1, 1), "", f"cannot read the file: {err}")]
    return validate_source(source, registry, path=str(file), global_defaults=global_defaults,
                           worker_groups=worker_groups)


def _settings() -> tuple[list[dict[str, Any]], list[str]]:
    """Global plugin defaults and worker queues from the configuration, if it can be read."""
    try:
        settings = load_settings()
    except Exception as err:  # a broken config must not hide the flow's own problems
        click.echo(f"warning: configuration not read ({err}); using the defaults", err=True)
        return [], ["default"]
    return list(settings.plugin_defaults), list(settings.worker.queues)


commands = [flow_group]
