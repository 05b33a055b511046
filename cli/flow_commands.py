"""L4: ``podium flow ...``: commands on flow files (``podium flow validate FILE|DIR...``,
``podium flow deploy FILE|DIR...``)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.client import instance_options, load_registry, open_services, settings_from, user_errors
from engine.dispatch import DEFAULT_QUEUE

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.plugins.base import Registry
    from engine.services import Deployed, DeployProblem, Services
    from engine.validation import Problem

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
    every flow is valid, 1 otherwise (the problems go to stderr). A valid flow with a task that
    cannot run in this installation (not implemented, or a missing optional dependency) gets a
    warning on stderr and still exits 0; `podium run` refuses it.
    """
    try:
        code = _validate(paths, worker_groups)
    except Exception as err:  # noqa: BLE001 - never a traceback for the user; say what broke instead
        click.echo(f"error: validation stopped unexpectedly: {type(err).__name__}: {err}", err=True)
        code = 2
    sys.exit(code)


def _validate(paths: tuple[Path, ...], extra_groups: tuple[str, ...]) -> int:
    registry = load_registry()
    global_defaults, queues = _settings()
    files, problems = find_flow_files(paths)
    flows: list[tuple[Path, Flow]] = []
    failed: set[Path] = set()
    warnings: list[Problem] = []
    for file in files:
        found, file_problems, file_warnings = _check_file(file, registry, global_defaults,
                                                          [*queues, *extra_groups])
        flows += [(file, flow) for flow in found]
        problems += file_problems
        warnings += file_warnings
        if file_problems:
            failed.add(file)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem{'s' * (len(problems) != 1)} in "
                   f"{len(failed) or 1} of {len(files)} file{'s' * (len(files) != 1)}", err=True)
        return 1
    for file, flow in flows:
        click.echo(f"ok  {file}  {flow.namespace}.{flow.id}")
    noted = f" ({len(warnings)} warning{'s' * (len(warnings) != 1)})" if warnings else ""
    click.echo(f"{len(flows)} flow{'s' * (len(flows) != 1)} valid in {len(files)} "
               f"file{'s' * (len(files) != 1)}{noted}")
    return 0


def find_flow_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The flow files named by ``paths`` (folders searched recursively), and missing paths."""
    from engine.validation import Position, Problem

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
                worker_groups: list[str]) -> tuple[list[Flow], list[Problem], list[Problem]]:
    """The file's flows, its problems, and warnings about tasks that cannot run here."""
    from engine.flow_warnings import unrunnable_problems
    from engine.loader import read_flow_file, validate_source
    from engine.validation import FlowValidationError, Position, Problem

    try:
        source = read_flow_file(file)
    except FlowValidationError as err:
        return [], err.details, []
    except (OSError, UnicodeDecodeError) as err:
        return [], [Problem(str(file), Position(1, 1), "", f"cannot read the file: {err}")], []
    flows, problems = validate_source(source, registry, path=str(file), global_defaults=global_defaults,
                                      worker_groups=worker_groups)
    warnings = [w for flow in flows for w in unrunnable_problems(flow, registry, source, str(file))]
    return flows, problems, warnings


def _settings() -> tuple[list[dict[str, Any]], list[str]]:
    """Global plugin defaults and worker queues from the configuration, if it can be read."""
    if not _configured():
        # Settings() would hold only its defaults; pydantic-settings costs a third of a second.
        return [], [DEFAULT_QUEUE]
    from engine.settings import load_settings

    try:
        settings = load_settings()
    except Exception as err:  # noqa: BLE001 - a broken config must not hide the flow's own problems
        click.echo(f"warning: configuration not read ({err}); using the defaults", err=True)
        return [], ["default"]
    return list(settings.plugin_defaults), list(settings.worker.queues)


def _configured() -> bool:
    """Whether a settings file or a ``PODIUM_*`` variable is there (pydantic-settings ignores case)."""
    return any(name.upper().startswith("PODIUM_") for name in os.environ)


@flow_group.command("deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@instance_options
@user_errors
def deploy_command(paths: tuple[Path, ...], config_file: str | None, data_dir: Path | None) -> None:
    """Deploy flow files (or folders of them): each changed source becomes a new revision."""
    services = open_services(settings_from(config_file, data_dir))
    refused = 0
    for path in paths:
        deployed, problems = (services.deploy_folder(path) if path.is_dir()
                              else _deploy_one(services, path))
        for item in deployed:
            what = f"revision {item.revision}" if item.created else f"unchanged (revision {item.revision})"
            click.echo(f"{item.flow.namespace}.{item.flow.id}: {what}")
        for problem in problems:
            click.echo(problem.message, err=True)
        refused += len(problems)
    if refused:
        raise click.ClickException(f"{refused} flow file(s) refused; fix the problems above")


def _deploy_one(services: Services, path: Path) -> tuple[list[Deployed], list[DeployProblem]]:
    from engine.errors import FlowInvalid
    from engine.services import DeployProblem

    try:
        return [services.flows.deploy_file(path)], []
    except FlowInvalid as err:
        return [], [DeployProblem(str(path), str(err))]


commands = [flow_group]
