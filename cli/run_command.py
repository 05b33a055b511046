"""L4: ``podium run FLOW_FILE``: run one flow to its end on a fresh embedded instance."""
from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.client import EXIT_FAILED, STRICT_HELP, exit_code, has_ended, parse_json_option, parse_pairs, rejected
from cli.instance import open_instance
from engine.errors import PodiumError
from engine.state import State

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.model.flow import Flow
    from engine.services import Services


@click.command("run")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--flows", "flows_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Deploy every flow of this folder first (so subflows resolve).")
@click.option("--inputs", "inputs_json", help="Inputs as a JSON object.")
@click.option("-i", "--input", "input_pairs", multiple=True, help="One input as KEY=VALUE (repeatable).")
@click.option("--labels", "labels_json", help="Execution labels as a JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print the final execution as one JSON object.")
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the instance's database and files here (default: a temporary folder).")
@click.option("--timeout", type=float, default=3600, show_default=True,
              help="Seconds to wait for the execution to end.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Print Podium's own logs at this level on stderr (DEBUG: with the traceback of a task's "
                   "unexpected error).")
def run_command(flow_file: Path, flows_dir: Path | None, inputs_json: str | None,
                input_pairs: tuple[str, ...], labels_json: str | None, as_json: bool, strict: bool,
                data_dir: Path | None, timeout: float, log_level: str | None) -> None:
    """Run FLOW_FILE to its end on the embedded default and show what happened.

    Exit code: 0 when the execution ends SUCCESS or WARNING, 1 when it ends FAILED, KILLED or
    CANCELLED (or does not end), 2 when the flow or its inputs are refused.

    \b
    Examples:
      podium run flows/hello_world.yaml -i user=Ada
      podium run flow.yaml --inputs '{"n": 3}' --json
    """
    inputs = {**parse_json_option(inputs_json, "--inputs"), **parse_pairs(input_pairs)}
    labels = parse_json_option(labels_json, "--labels")
    if log_level is not None:
        from engine.log_config import configure_logging

        configure_logging("console", log_level.upper(), process="run")
    with tempfile.TemporaryDirectory(prefix="podium-run-") as scratch:
        try:
            execution, logs = _run(flow_file, flows_dir, inputs, labels, data_dir or Path(scratch),
                                   timeout, live=not as_json and sys.stdout.isatty())
        except Rejected as err:
            rejected(err)
        except PodiumError as err:  # it started but did not end (timeout)
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_FAILED)
    if as_json:
        click.echo(json.dumps({**execution.to_json(), "logs": logs}, default=str))
    else:
        from rich.console import Console

        from cli.display import execution_summary

        Console().print(execution_summary(execution, logs, datetime.now(UTC)))
    sys.exit(exit_code(execution.state.current, strict=strict))


class Rejected(PodiumError):
    """The flow, the flows folder or the inputs were refused before the execution started."""


def _run(flow_file: Path, flows_dir: Path | None, inputs: dict[str, Any], labels: dict[str, Any],
         data_dir: Path, timeout: float, live: bool) -> tuple[Execution, list[dict[str, Any]]]:
    with open_instance(data_dir) as instance:
        services = instance.services
        try:
            if flows_dir is not None:
                services.deploy_folder(flows_dir, strict=False)
            flow = services.deploy_file(flow_file)
            _refuse_unrunnable(flow, flow_file, services)
            execution = services.start_execution(flow.namespace, flow.id, inputs=inputs, labels=labels,
                                                 local_files=True)
        except PodiumError as err:
            raise Rejected(str(err)) from None
        execution = _wait(services, execution, timeout, live)
        return execution, services.execution_logs(execution.id)


def _refuse_unrunnable(flow: Flow, flow_file: Path, services: Services) -> None:
    """A task that cannot run in this installation would fail mid-way: refuse the flow before it
    starts, with the lines ``podium flow validate`` warns with."""
    from engine.flow_warnings import unrunnable_problems

    problems = unrunnable_problems(flow, services.env.registry, flow_file.read_text(encoding="utf-8"),
                                   str(flow_file))
    if problems:
        raise PodiumError("\n".join(str(p) for p in problems))


def _wait(services: Services, execution: Execution, timeout: float, live: bool) -> Execution:
    from rich.console import Console
    from rich.live import Live

    from cli.display import execution_tree

    deadline = time.monotonic() + timeout
    console = Console()
    pause = 0.02  # a short flow ends in a blink; a long one is not polled 50 times a second
    with Live(console=console, refresh_per_second=8, transient=True) if live else _NoLive() as screen:
        while not has_ended(execution):
            if _waits_for_a_person(services, execution):
                click.echo(f"{execution.describe()} is PAUSED until someone resumes it; run the flow with "
                           "`podium server local` to resume it with `podium execution resume`", err=True)
                break
            if time.monotonic() > deadline:
                raise PodiumError(f"{execution.describe()} did not end within {timeout:.0f} s; "
                                  "raise --timeout or look at it with `podium execution show`")
            time.sleep(pause)
            pause = min(pause * 1.25, 0.25)
            execution = services.get_execution(execution.id)
            if live:
                screen.update(execution_tree(execution, datetime.now(UTC)))
    return execution


def _waits_for_a_person(services: Services, execution: Execution) -> bool:
    """PAUSED with no timer to wake it: only a manual resume can end it."""
    if execution.state.current != State.PAUSED:
        return False
    return not services.env.timers.for_execution(execution.id)


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, renderable: object) -> None:
        return None


commands = [run_command]
