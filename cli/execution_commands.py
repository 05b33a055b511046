"""L4: ``podium execution ...``: start, inspect and operate executions."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.client import (
    STRICT_HELP,
    echo_json,
    exit_code,
    has_ended,
    instance_options,
    open_services,
    parse_json_option,
    parse_pairs,
    rejected,
    settings_from,
    user_errors,
)
from engine.errors import PodiumError
from engine.state import State

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.services import Services

WAIT_POLL_SECONDS = 0.1
NOT_PICKED_UP_HINT_SECONDS = 10.0


@click.group("execution")
def execution_group() -> None:
    """Start, inspect and operate executions (start, list, show, logs, kill, restart, replay, resume)."""


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
    from cli.reads import instance_place, open_reads

    page = open_reads(instance_place(config_file, data_dir)).executions(
        namespace=namespace, flow_id=flow_id, state=State(state.upper()) if state else None, size=size)
    if as_json:
        echo_json([e.to_json() for e in page.items])
        return
    from rich.console import Console

    from cli.display import executions_table

    table, width = executions_table(page.items, datetime.now(UTC), Console().width)
    Console(width=width).print(table)
    click.echo(f"{len(page.items)} of {page.total} executions")


@execution_group.command("show")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def show_command(execution_id: str, as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """One execution: its task runs, outputs, metrics and logs."""
    from cli.reads import execution_of, instance_place, open_reads

    reads = open_reads(instance_place(config_file, data_dir))
    execution = execution_of(reads, execution_id)
    logs = [entry.to_json() for entry in reads.logs(execution_id)]
    metrics = [entry.to_json() for entry in reads.metrics(execution_id)]
    if as_json:
        echo_json({**execution.to_json(), "logs": logs, "metrics": metrics})
        return
    from rich.console import Console

    from cli.display import execution_summary

    Console().print(execution_summary(execution, logs, datetime.now(UTC), metrics))


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
    from cli.reads import execution_of, instance_place, open_reads

    reads = open_reads(instance_place(config_file, data_dir))
    execution_of(reads, execution_id)  # an unknown execution is an error, not an empty list
    logs = [entry.to_json() for entry in reads.logs(execution_id, min_level=min_level)]
    if as_json:
        echo_json(logs)
        return
    from rich.console import Console

    from cli.display import logs_table

    Console().print(logs_table(logs))


def _operation(name: str, help_text: str) -> Callable[[Callable[..., None]], click.Command]:
    """An ``execution`` subcommand that hands work to the server's executor."""
    def decorate(function: Callable[..., None]) -> click.Command:
        return execution_group.command(name, help=help_text)(instance_options(user_errors(function)))
    return decorate


@_operation("kill", "Kill a running, paused or queued execution (and its subflow executions).")
@click.argument("execution_id")
def kill_command(execution_id: str, config_file: str | None, data_dir: Path | None) -> None:
    open_services(settings_from(config_file, data_dir), needs_executor=True).kill(execution_id)
    click.echo(f"kill requested for execution {execution_id}")


@_operation("restart", "Restart the failed task runs of an ended execution, in the same execution.")
@click.argument("execution_id")
def restart_command(execution_id: str, config_file: str | None, data_dir: Path | None) -> None:
    execution = open_services(settings_from(config_file, data_dir), needs_executor=True).restart(execution_id)
    click.echo(f"execution {execution.id} restarted (attempt {execution.metadata.attempt_number})")


@_operation("replay", "Start a new execution from this one, from the start or from a task run.")
@click.argument("execution_id")
@click.option("--task-run", "task_run_id", help="Replay from this task run (earlier ones are kept).")
def replay_command(execution_id: str, task_run_id: str | None, config_file: str | None,
                   data_dir: Path | None) -> None:
    services = open_services(settings_from(config_file, data_dir), needs_executor=True)
    execution = services.replay(execution_id, task_run_id)
    click.echo(f"new execution {execution.id} replays {execution_id}")


@_operation("resume", "Resume a paused execution, with the Pause task's onResume inputs.")
@click.argument("execution_id")
@click.option("-i", "--input", "pairs", multiple=True, help="An onResume input as KEY=VALUE.")
def resume_command(execution_id: str, pairs: tuple[str, ...], config_file: str | None,
                   data_dir: Path | None) -> None:
    inputs = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    open_services(settings_from(config_file, data_dir), needs_executor=True).resume(execution_id, inputs,
                                                                                   local_files=True)
    click.echo(f"resume requested for execution {execution_id}")


@_operation("set-state", "Change a task run's state (e.g. mark a failed task SUCCESS) and go on.")
@click.argument("execution_id")
@click.argument("task_run_id")
@click.argument("state", type=click.Choice(["SUCCESS", "WARNING", "FAILED"], case_sensitive=False))
def set_state_command(execution_id: str, task_run_id: str, state: str, config_file: str | None,
                      data_dir: Path | None) -> None:
    open_services(settings_from(config_file, data_dir), needs_executor=True).change_task_run_state(
        execution_id, task_run_id, State(state.upper()))
    click.echo(f"task run {task_run_id} set to {state.upper()}")


@execution_group.command("start")
@click.argument("namespace")
@click.argument("flow_id")
@click.option("--inputs", "inputs_json", help="Inputs as a JSON object.")
@click.option("-i", "--input", "input_pairs", multiple=True, help="One input as KEY=VALUE (repeatable).")
@click.option("--labels", "labels_json", help="Execution labels as a JSON object.")
@click.option("--wait", is_flag=True, help="Wait for the end; exit 0 on SUCCESS or WARNING, 1 otherwise.")
@click.option("--strict", is_flag=True, help="With --wait: " + STRICT_HELP)
@click.option("--timeout", type=click.FloatRange(min=0), default=3600, show_default=True,
              help="With --wait: seconds to wait for the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON (with its logs after --wait).")
@instance_options
@user_errors
def start_command(namespace: str, flow_id: str, inputs_json: str | None, input_pairs: tuple[str, ...],
                  labels_json: str | None, wait: bool, strict: bool, timeout: float, as_json: bool,
                  config_file: str | None, data_dir: Path | None) -> None:
    """Start an execution of a deployed flow; the running server (or executor) runs it.

    Exit code: 2 when the flow or the inputs are refused (nothing started). With --wait: 0 when
    the execution ends SUCCESS or WARNING, 1 when it ends FAILED, KILLED or CANCELLED (or does
    not end within --timeout).

    \b
    Examples:
      podium execution start company.team hello -i user=Ada
      podium execution start company.team hello --inputs '{"n": 3}' --wait
    """
    inputs = {**parse_json_option(inputs_json, "--inputs"), **parse_pairs(input_pairs)}
    labels = parse_json_option(labels_json, "--labels")
    services = open_services(settings_from(config_file, data_dir), needs_executor=True)
    try:
        execution = services.start_execution(namespace, flow_id, inputs=inputs, labels=labels,
                                             local_files=True)
    except PodiumError as err:
        rejected(err)
    if not wait:
        echo_json(execution.to_json()) if as_json else click.echo(execution.id)
        return
    if not as_json:
        click.echo(execution.id)
    try:
        execution = _wait_for_end(services, execution.id, timeout, services.env.settings.data_dir)
    except KeyboardInterrupt:
        click.echo(f"stopped waiting; execution {execution.id} goes on (`podium execution show "
                   f"{execution.id}`, or `podium execution kill {execution.id}`)", err=True)
        sys.exit(130)
    logs = services.execution_logs(execution.id)
    if as_json:
        echo_json({**execution.to_json(), "logs": logs})
    else:
        from rich.console import Console

        from cli.display import execution_summary

        Console().print(execution_summary(execution, logs, datetime.now(UTC)))
    sys.exit(exit_code(execution.state.current, strict=strict))


def _wait_for_end(services: Services, execution_id: str, timeout: float, data_dir: Path) -> Execution:
    """Polls the database until the execution ended; hints once if nothing seems to run it."""
    started = time.monotonic()
    hinted = False
    while True:
        execution = services.get_execution(execution_id)
        if has_ended(execution):
            return execution
        waited = time.monotonic() - started
        if waited > timeout:
            raise PodiumError(f"{execution.describe()} did not end within {timeout:.0f} s (it is "
                              f"{execution.state.current.value} and goes on); follow it with "
                              f"`podium execution show {execution_id}`, or raise --timeout")
        if not hinted and waited > NOT_PICKED_UP_HINT_SECONDS and execution.state.current == State.CREATED:
            hinted = True
            click.echo(f"still CREATED after {NOT_PICKED_UP_HINT_SECONDS:.0f} s: is a server running on this "
                       f"instance? (`podium server local --data-dir {data_dir}`, or an executor on this "
                       "broker)", err=True)
        time.sleep(WAIT_POLL_SECONDS)


commands = [execution_group]
