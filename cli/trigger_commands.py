"""L4: ``podium triggers list``: every trigger of every deployed flow, with its next fires;
``podium triggers logs``: what the triggers of one flow logged (outside any execution).

For Schedule and ScheduleOnDates triggers the next five fire times are computed in the
trigger's time zone (with the DST notes of engine/schedule/cron.py); other trigger types show
their type and state only. Last fire, last execution and the last error (why the trigger last
failed to start an execution, and when) come from the trigger's state row.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.client import echo_json, instance_options, load_registry, user_errors
from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.task import TriggerOptions
    from engine.persistence.records import TriggerState
    from engine.schedule.policy import DateSequence
    from engine.schedule.schedule_triggers import ScheduleTrigger
    from engine.services import Services

UPCOMING = 5


@click.group("triggers")
def triggers_group() -> None:
    """Inspect the triggers of deployed flows."""


@triggers_group.command("list")
@click.option("--namespace", help="Only flows of this namespace (and its children).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@instance_options
@user_errors
def list_command(namespace: str | None, as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """Every trigger with its type, next 5 fire times, last fire, last execution and last error."""
    from cli.reads import instance_place, open_reads
    from engine.errors import FlowInvalid
    from engine.loader import load_flow_text
    from engine.validation import FlowValidationError

    place = instance_place(config_file, data_dir)
    reads = open_reads(place)
    registry = load_registry()
    flows = []
    for stored in reads.flows(namespace):
        # As the flow service parses a stored revision (its global plugin defaults, its revision).
        try:
            loaded = load_flow_text(stored.source, registry, path=f"{stored.namespace}.{stored.flow_id}@"
                                    f"{stored.revision}", global_defaults=list(place.plugin_defaults))
        except FlowValidationError as err:
            raise FlowInvalid([str(p) for p in err.problems]) from None
        flows.append(loaded.flow.model_copy(update={"revision": stored.revision}))
    rows = trigger_rows(flows, reads.trigger_states(), place.timezone, datetime.now(UTC))
    if as_json:
        echo_json(rows)
        return
    _print_table(rows)


def describe_triggers(services: Services, namespace: str | None, now: datetime) -> list[dict[str, Any]]:
    """One dict per trigger of every deployed flow (the rows of ``podium triggers list``), from the
    services of a process that has them."""
    flows = []
    for stored in services.env.flows.list(namespace):
        try:
            flows.append(services.flows.get(stored.namespace, stored.flow_id))
        except NotFound:
            continue
    return trigger_rows(flows, services.schedules.states.list(), services.env.settings.timezone, now)


def trigger_rows(flows: Iterable[Flow], states: Iterable[TriggerState], default_zone: str,
                 now: datetime) -> list[dict[str, Any]]:
    """One dict per trigger of ``flows``, with its state and, for a schedule, its next fires."""
    from engine.schedule.schedule_triggers import schedule_triggers

    by_key = {(s.namespace, s.flow_id, s.trigger_id): s for s in states}
    rows = []
    for flow in flows:
        scheduled = {t.id: t for t in schedule_triggers(flow)}
        for trigger in flow.triggers or []:
            state = by_key.get((flow.namespace, flow.id, trigger.id))
            row = _row(flow, trigger, state)
            schedule = scheduled.get(trigger.id)
            if schedule is not None:
                row["timezone"] = zone = schedule.timezone or default_zone
                row["next"] = _upcoming(schedule, state, zone, now)
            rows.append(row)
    return rows


def _row(flow: Flow, trigger: TriggerOptions, state: TriggerState | None) -> dict[str, Any]:
    disabled = bool(flow.disabled or trigger.disabled or (state is not None and state.disabled))
    return {
        "namespace": flow.namespace, "flowId": flow.id, "triggerId": trigger.id, "type": trigger.type,
        "disabled": disabled, "timezone": None, "next": [],
        "lastDate": state.last_date.isoformat() if state is not None and state.last_date else None,
        "lastExecutionId": state.last_execution_id if state is not None else None,
        "lastError": state.last_error if state is not None else None,
        "lastErrorDate": state.last_error_date.isoformat() if state is not None and state.last_error_date else None,
    }


def _upcoming(trigger: ScheduleTrigger, state: TriggerState | None, zone: str,
              now: datetime) -> list[dict[str, Any]]:
    """The next fires from the state's next date (a due date blocked by a running execution
    is still upcoming), else from now."""
    from engine.schedule.schedule_triggers import sequence_of

    sequence: DateSequence = sequence_of(trigger, state.data if state else {}, zone)
    start = state.next_date if state is not None and state.next_date is not None else now
    fires: list[dict[str, Any]] = []
    try:
        fire = sequence.next_after(start - timedelta(microseconds=1))
        while fire is not None and len(fires) < UPCOMING:
            fires.append({"date": fire.iso, "note": fire.note})
            fire = sequence.next_after(fire.at)
    except ValueError:  # a cron naming no real date: nothing upcoming
        pass
    return fires


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True)
    for column in ("Flow", "Trigger", "Type", "Next fires (trigger zone)", "Last fire"):
        table.add_column(column, overflow="fold")
    table.add_column("Last execution", no_wrap=True)  # an id is copied whole
    table.add_column("Last error", overflow="fold", min_width=30)
    table.add_column("Enabled")
    for row in rows:
        upcoming = "\n".join(f"{f['date']}" + (f"  ({f['note']})" if f["note"] else "") for f in row["next"])
        error = f"{row['lastErrorDate']}\n{row['lastError']}" if row["lastError"] else "-"
        table.add_row(f"{row['namespace']}.{row['flowId']}", row["triggerId"], row["type"].rsplit(".", 1)[-1],
                      upcoming or "-", row["lastDate"] or "-", row["lastExecutionId"] or "-", error,
                      "no" if row["disabled"] else "yes")
    Console(width=200).print(table)
    if not rows:
        click.echo("no triggers: deploy flows with `podium flow deploy FILE`")
    elif any(row["lastError"] for row in rows):
        click.echo("a trigger failed to start an execution: `podium triggers logs NAMESPACE FLOW_ID` shows its logs")


@triggers_group.command("logs")
@click.argument("namespace")
@click.argument("flow_id")
@click.option("-t", "--trigger", "trigger_id", help="Only this trigger's logs.")
@click.option("-n", "--last", "limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many of the latest logs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@instance_options
@user_errors
def logs_command(namespace: str, flow_id: str, trigger_id: str | None, limit: int, as_json: bool,
                 config_file: str | None, data_dir: Path | None) -> None:
    """The logs the flow's triggers wrote outside any execution (why one did not start it), oldest first."""
    from cli.reads import instance_place, open_reads

    reads = open_reads(instance_place(config_file, data_dir))
    if reads.flow(namespace, flow_id) is None:  # an unknown flow is an error, not an empty list
        raise NotFound(f"flow {namespace}.{flow_id} not found; deploy it with `podium flow deploy FILE` first")
    entries = [entry.to_json() for entry in reads.trigger_logs(namespace, flow_id, trigger_id=trigger_id,
                                                               limit=limit)]
    if as_json:
        echo_json(entries)
        return
    from rich.console import Console

    from cli.display import logs_table

    Console().print(logs_table(entries, source="triggerId"))


commands = [triggers_group]
