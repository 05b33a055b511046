"""L4: ``podium backfill``: replay a Schedule trigger over past dates, and operate backfills.

``podium backfill NS FLOW TRIGGER --start ... --end ...`` is ``podium backfill start ...``.
On the embedded default (no shared broker configured) the command runs the backfill itself in an
in-process instance and shows its progress; with a shared broker it records the backfill and
follows the progress made by the server's beat and workers. Ctrl-C stops following only: the
backfill stays recorded and beat continues it.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.client import echo_json, instance_options, open_services, settings_from, user_errors
from engine.errors import PodiumError

if TYPE_CHECKING:
    from rich.console import Console

    from engine.model.trigger_key import TriggerKey
    from engine.schedule.backfill_status import BackfillStatus
    from engine.services import Services
    from engine.settings import Settings

FOLLOW_POLL_SECONDS = 0.2
PER_TICK = 500


class BackfillUsageError(PodiumError, ValueError):
    """A bad date or JSON option on the command line."""


class _DefaultToStart(click.Group):
    """``podium backfill NS FLOW TRIGGER ...`` runs the ``start`` subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group("backfill", cls=_DefaultToStart)
def backfill_group() -> None:
    """Run a Schedule trigger over past dates: one execution per fire time, never twice.

    \b
      podium backfill NS FLOW TRIGGER --start 2024-01-01 --end 2024-01-31
      podium backfill NS FLOW TRIGGER --start 2024-01-01 --end 2024-12-31 --dry-run
      podium backfill status|pause|resume|cancel NS FLOW TRIGGER
      podium backfill list

    Dates without an offset are read in the trigger's time zone; --end is inclusive.
    See docs/backfill.md.
    """


@backfill_group.command("start")
@click.argument("namespace")
@click.argument("flow_id", metavar="FLOW")
@click.argument("trigger_id", metavar="TRIGGER")
@click.option("--start", "start_text", required=True, metavar="DATE",
              help="First date: 2024-01-01, 2024-01-01T06:00 or 2024-01-01T06:00:00+02:00.")
@click.option("--end", "end_text", required=True, metavar="DATE", help="Last date (inclusive), same forms.")
@click.option("--inputs", "inputs_json", metavar="JSON", help='Inputs of every execution: {"taxi": "green"}.')
@click.option("--labels", "labels_json", metavar="JSON", help='Labels added to every execution: {"team": "data"}.')
@click.option("--dry-run", is_flag=True, help="List the fire times (local, UTC, DST notes); create nothing.")
@click.option("--only-gaps", is_flag=True,
              help="Skip dates whose execution succeeded (or is running); run the others again.")
@click.option("--paused", is_flag=True, help="Record the backfill paused; `resume` starts it.")
@click.option("--detach", is_flag=True, help="Record the backfill and return; beat runs it.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress bar).")
@instance_options
@user_errors
def start_command(namespace: str, flow_id: str, trigger_id: str, start_text: str, end_text: str,
                  inputs_json: str | None, labels_json: str | None, dry_run: bool, only_gaps: bool,
                  paused: bool, detach: bool, as_json: bool, config_file: str | None,
                  data_dir: Path | None) -> None:
    """Backfill TRIGGER (a Schedule) of NAMESPACE.FLOW between --start and --end."""
    settings = settings_from(config_file, data_dir)
    options = {"inputs": _json_object(inputs_json, "--inputs"), "labels": _json_labels(labels_json),
               "only_gaps": only_gaps, "paused": paused}
    if dry_run:
        _dry_run(open_services(settings), (namespace, flow_id, trigger_id), start_text, end_text, as_json)
    elif detach or paused or not settings.is_embedded_broker:
        services = open_services(settings)
        status = _create(services, (namespace, flow_id, trigger_id), start_text, end_text, options)
        if as_json:
            echo_json(status.to_json())
        elif detach or paused:
            _print_recorded(status)
        else:
            _follow(services, status, drive=False)
    else:
        _run_in_process(settings, (namespace, flow_id, trigger_id), start_text, end_text, options, as_json)


def _run_in_process(settings: Settings, key: tuple[str, str, str], start_text: str, end_text: str,
                    options: dict[str, Any], as_json: bool) -> None:
    from cli.instance import open_instance

    with open_instance(settings=settings) as instance:
        status = _create(instance.services, key, start_text, end_text, options)
        final = _follow(instance.services, status, drive=True, quiet=as_json)
    if as_json:
        echo_json(final.to_json())


def _create(services: Services, key: tuple[str, str, str], start_text: str, end_text: str,
            options: dict[str, Any]) -> BackfillStatus:
    start, end = _window(services, key, start_text, end_text)
    return services.backfills.create(*key, start, end, **options)


def _window(services: Services, key: tuple[str, str, str], start_text: str,
            end_text: str) -> tuple[datetime, datetime]:
    from engine.schedule.backfill_cursor import parse_moment

    _, _, schedule = services.backfills.schedule_of(*key)
    try:
        return (parse_moment(start_text, schedule.timezone, what="--start"),
                parse_moment(end_text, schedule.timezone, what="--end"))
    except ValueError as err:
        raise BackfillUsageError(str(err)) from None


# -- dry run ------------------------------------------------------------------------------------

def _dry_run(services: Services, key: tuple[str, str, str], start_text: str, end_text: str,
             as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    start, end = _window(services, key, start_text, end_text)
    fires = services.backfills.plan(*key, start, end)
    if as_json:
        echo_json({"count": len(fires), "fireTimes": [
            {"local": f.iso, "utc": f.at.isoformat(), **({"note": f.note} if f.note else {})} for f in fires]})
        return
    table = Table(header_style="bold", title=f"backfill of {key[2]} ({key[0]}.{key[1]}): dry run")
    for column in ("#", "local time", "UTC", "note"):
        table.add_column(column)
    for number, fire in enumerate(fires, 1):
        table.add_row(str(number), fire.local.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      fire.at.strftime("%Y-%m-%d %H:%M:%S"), fire.note or "")
    console = Console()
    console.print(table)
    noted = sum(1 for fire in fires if fire.note)
    console.print(f"{len(fires)} fire time(s) would run" +
                  (f"; {noted} moved or merged by a daylight-saving change" if noted else "") +
                  ". Nothing was created.", soft_wrap=True)


# -- following ----------------------------------------------------------------------------------

def _follow(services: Services, status: BackfillStatus, *, drive: bool, quiet: bool = False) -> BackfillStatus:
    """Shows created and finished executions until the backfill is done; drives it if asked."""
    from rich.console import Console

    key = status.key
    advance: Callable[[], object] = (
        (lambda: services.backfills.advance_one(key, datetime.now(UTC), PER_TICK))
        if drive else (lambda: None))
    console = Console(stderr=quiet, quiet=quiet)
    console.print(f"backfill of {key}: {status.cursor.total or 'many'} fire time(s), "
                  f"{status.cursor.start.isoformat()} to {status.cursor.end.isoformat()}", soft_wrap=True)
    try:
        final = _progress(services, status, advance, console)
    except KeyboardInterrupt:
        console.print("stopped following; the backfill stays recorded. Follow it with "
                      f"`podium backfill status {key.namespace} {key.flow_id} {key.trigger_id}`",
                      soft_wrap=True)
        sys.exit(130)
    _print_outcome(console, final)
    return final


def _progress(services: Services, status: BackfillStatus, advance: Callable[[], object],
              console: Console) -> BackfillStatus:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = status.cursor.total
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        created = progress.add_task("created", total=total)
        finished = progress.add_task("finished", total=total)
        for current in _statuses(services, status.key, advance):
            progress.update(created, completed=current.cursor.done,
                            description="paused" if current.cursor.paused else "created")
            progress.update(finished, completed=current.finished_executions, total=total or current.executions)
            if _done(current):
                return current
    return status  # not reached: the statuses go on until the backfill is done


def _statuses(services: Services, key: TriggerKey, advance: Callable[[], object]) -> Iterator[BackfillStatus]:
    while True:
        advance()
        yield services.backfills.status(key.namespace, key.flow_id, key.trigger_id)
        time.sleep(FOLLOW_POLL_SECONDS)


def _done(status: BackfillStatus) -> bool:
    cursor = status.cursor
    if cursor.error or cursor.cancelled:
        return True
    return cursor.finished and status.finished_executions >= status.executions


def _print_outcome(console: Console, status: BackfillStatus) -> None:
    cursor, key = status.cursor, status.key
    if cursor.error:
        raise BackfillUsageError(f"the backfill of {key} was paused: {cursor.error}; fix it, then "
                                 f"`podium backfill resume {key.namespace} {key.flow_id} {key.trigger_id}`")
    console.print(f"backfill {cursor.status.lower()}: {cursor.created} execution(s) created, "
                  f"{cursor.skipped} fire time(s) already done, {status.finished_executions} of "
                  f"{status.executions} execution(s) ended", soft_wrap=True)


def _print_recorded(status: BackfillStatus) -> None:
    key, cursor = status.key, status.cursor
    state = "paused" if cursor.paused else "recorded; beat creates its executions"
    click.echo(f"backfill of {key} {state}: {cursor.total or 'many'} fire time(s) from "
               f"{cursor.start.isoformat()} to {cursor.end.isoformat()}")
    click.echo(f"follow it with `podium backfill status {key.namespace} {key.flow_id} {key.trigger_id}`")


# -- operations ---------------------------------------------------------------------------------

OPERATIONS = {
    "status": "Where a backfill stands: fire times walked, executions created and ended.",
    "pause": "Pause a backfill: no new execution until `resume`.",
    "resume": "Resume a paused backfill (also one paused by an error, once fixed).",
    "cancel": "Stop a backfill for good; executions already created keep running.",
}


def _operation(name: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("namespace")
    @click.argument("flow_id", metavar="FLOW")
    @click.argument("trigger_id", metavar="TRIGGER")
    @click.option("--json", "as_json", is_flag=True)
    @instance_options
    @user_errors
    def command(namespace: str, flow_id: str, trigger_id: str, as_json: bool,
                config_file: str | None, data_dir: Path | None) -> None:
        services = open_services(settings_from(config_file, data_dir))
        status = getattr(services.backfills, name)(namespace, flow_id, trigger_id)
        if as_json:
            echo_json(status.to_json())
        else:
            _print_status(status)
    return command


for _name, _help in OPERATIONS.items():
    backfill_group.add_command(_operation(_name, _help))


@backfill_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def list_command(as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """Every recorded backfill, running or not."""
    from cli.reads import instance_place, open_reads
    from engine.model.trigger_key import TriggerKey
    from engine.schedule.backfill_status import backfill_statuses

    statuses = backfill_statuses([(TriggerKey(s.namespace, s.flow_id, s.trigger_id), s.backfill)
                                  for s in open_reads(instance_place(config_file, data_dir)).trigger_states()])
    if as_json:
        echo_json([s.to_json() for s in statuses])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("trigger", "status", "window", "done", "created"):
        table.add_column(column)
    for status in statuses:
        cursor = status.cursor
        table.add_row(f"{status.key.namespace}.{status.key.flow_id}.{status.key.trigger_id}", cursor.status,
                      f"{cursor.start.isoformat()} to {cursor.end.isoformat()}",
                      f"{cursor.done}/{cursor.total or '?'}", str(cursor.created))
    Console().print(table)


def _print_status(status: BackfillStatus) -> None:
    cursor = status.cursor
    click.echo(f"backfill of {status.key}: {cursor.status}")
    click.echo(f"  window    {cursor.start.isoformat()} to {cursor.end.isoformat()} (next: "
               f"{'-' if not cursor.active else cursor.current_date.isoformat()})")
    click.echo(f"  walked    {cursor.done}/{cursor.total or '?'} fire time(s): {cursor.created} created, "
               f"{cursor.skipped} already done")
    click.echo(f"  ended     {status.finished_executions}/{status.executions} execution(s)")
    if cursor.error:
        click.echo(f"  paused by {cursor.error}")


# -- option parsing -----------------------------------------------------------------------------

def _json_object(text: str | None, option: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise BackfillUsageError(f"{option} is not valid JSON ({err.msg} at column {err.colno}): "
                                 f"give an object such as '{{\"taxi\": \"green\"}}'") from None
    if not isinstance(value, dict):
        raise BackfillUsageError(f"{option} must be a JSON object such as '{{\"taxi\": \"green\"}}'")
    return value


def _json_labels(text: str | None) -> dict[str, Any] | list[Any]:
    if text is not None and text.strip().startswith("["):
        try:
            labels: list[Any] = json.loads(text)
        except json.JSONDecodeError as err:
            raise BackfillUsageError(f"--labels is not valid JSON ({err.msg} at column {err.colno})") from None
        return labels
    return _json_object(text, "--labels")


commands = [backfill_group]
