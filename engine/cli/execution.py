"""L4: ``podium execution ...`` (inspect and operate executions) and ``podium flow deploy``."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from engine.cli.client import echo_json, instance_options, open_services, settings_from, user_errors
from engine.cli.display import execution_summary, format_seconds, logs_table, state_text
from engine.state import State


@click.group("execution")
def execution_group() -> None:
    """Inspect and operate executions (list, show, logs, kill, restart, replay, resume)."""


@execution_group.command("list")
@click.option("-n", "--namespace")
@click.option("-f", "--flow", "flow_id")
@click.option("-s", "--state", type=click.Choice([s.value for s in State], case_sensitive=False))
@click.option("--size", type=int, default=25, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def list_command(namespace: str | None, flow_id: str | None, state: str | None, size: int, as_json: bool,
                 config_file: str | None, data_dir: Path | None) -> None:
    """The latest executions, newest first."""
    services = open_services(settings_from(config_file, data_dir))
    page = services.env.executions.list(namespace=namespace, flow_id=flow_id,
                                        state=State(state.upper()) if state else None, size=size)
    if as_json:
        echo_json([e.to_json() for e in page.items])
        return
    now = datetime.now(timezone.utc)
    table = Table(header_style="bold")
    for column in ("id", "flow", "state", "started", "duration"):
        table.add_column(column)
    for item in page.items:
        start = item.state.start_date
        table.add_row(item.id, f"{item.namespace}.{item.flow_id}", state_text(item.state.current),
                      start.strftime("%Y-%m-%d %H:%M:%S") if start else "",
                      format_seconds(item.state.duration(now)))
    Console().print(table)
    click.echo(f"{len(page.items)} of {page.total} executions")


@execution_group.command("show")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def show_command(execution_id: str, as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """One execution: its task runs, outputs and logs."""
    services = open_services(settings_from(config_file, data_dir))
    execution = services.get_execution(execution_id)
    logs = services.execution_logs(execution_id)
    if as_json:
        echo_json({**execution.to_json(), "logs": logs})
        return
    Console().print(execution_summary(execution, logs, datetime.now(timezone.utc)))


@execution_group.command("logs")
@click.argument("execution_id")
@click.option("-l", "--level", "min_level", type=click.Choice(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]),
              help="Only this level and above.")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def logs_command(execution_id: str, min_level: str | None, as_json: bool, config_file: str | None,
                 data_dir: Path | None) -> None:
    """The logs of one execution."""
    services = open_services(settings_from(config_file, data_dir))
    services.get_execution(execution_id)
    logs = services.execution_logs(execution_id, min_level=min_level)
    if as_json:
        echo_json(logs)
        return
    Console().print(logs_table(logs))


def _operation(name: str, help_text: str):  # type: ignore[no-untyped-def]
    def decorate(function):  # type: ignore[no-untyped-def]
        return execution_group.command(name, help=help_text)(instance_options(user_errors(function)))
    return decorate


@_operation("kill", "Kill a running, paused or queued execution (and its subflow executions).")
@click.argument("execution_id")
def kill_command(execution_id: str, config_file: str | None, data_dir: Path | None) -> None:
    open_services(settings_from(config_file, data_dir)).kill(execution_id)
    click.echo(f"kill requested for execution {execution_id}")


@_operation("restart", "Restart the failed task runs of an ended execution, in the same execution.")
@click.argument("execution_id")
def restart_command(execution_id: str, config_file: str | None, data_dir: Path | None) -> None:
    execution = open_services(settings_from(config_file, data_dir)).restart(execution_id)
    click.echo(f"execution {execution.id} restarted (attempt {execution.metadata.attempt_number})")


@_operation("replay", "Start a new execution from this one, from the start or from a task run.")
@click.argument("execution_id")
@click.option("--task-run", "task_run_id", help="Replay from this task run (earlier ones are kept).")
def replay_command(execution_id: str, task_run_id: str | None, config_file: str | None,
                   data_dir: Path | None) -> None:
    execution = open_services(settings_from(config_file, data_dir)).replay(execution_id, task_run_id)
    click.echo(f"new execution {execution.id} replays {execution_id}")


@_operation("resume", "Resume a paused execution, with the Pause task's onResume inputs.")
@click.argument("execution_id")
@click.option("-i", "--input", "pairs", multiple=True, help="An onResume input as KEY=VALUE.")
def resume_command(execution_id: str, pairs: tuple[str, ...], config_file: str | None,
                   data_dir: Path | None) -> None:
    inputs = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    open_services(settings_from(config_file, data_dir)).resume(execution_id, inputs)
    click.echo(f"resume requested for execution {execution_id}")


@_operation("set-state", "Change a task run's state (e.g. mark a failed task SUCCESS) and go on.")
@click.argument("execution_id")
@click.argument("task_run_id")
@click.argument("state", type=click.Choice(["SUCCESS", "WARNING", "FAILED"], case_sensitive=False))
def set_state_command(execution_id: str, task_run_id: str, state: str, config_file: str | None,
                      data_dir: Path | None) -> None:
    open_services(settings_from(config_file, data_dir)).change_task_run_state(
        execution_id, task_run_id, State(state.upper()))
    click.echo(f"task run {task_run_id} set to {state.upper()}")


@click.command("deploy")
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


def _deploy_one(services, path: Path):  # type: ignore[no-untyped-def]
    from engine.errors import FlowInvalid
    from engine.services import DeployProblem
    try:
        return [services.flows.deploy_file(path)], []
    except FlowInvalid as err:
        return [], [DeployProblem(str(path), str(err))]


def _attach_deploy() -> None:
    try:
        from engine.cli.flow import flow_group
    except ImportError:
        return
    flow_group.add_command(deploy_command)


_attach_deploy()
commands = [execution_group]
