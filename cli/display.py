"""L4: how the CLI shows executions to a person (rich trees and tables).

Imported inside the commands that print, so that ``podium --help`` does not load rich.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from engine.state import State

if TYPE_CHECKING:
    from engine.model.execution import Execution, TaskRun

STATE_STYLES: dict[State, str] = {
    State.CREATED: "dim", State.QUEUED: "dim", State.RUNNING: "cyan", State.PAUSED: "yellow",
    State.RESTARTED: "cyan", State.KILLING: "magenta", State.SUCCESS: "green", State.WARNING: "yellow",
    State.FAILED: "bold red", State.KILLED: "magenta", State.CANCELLED: "magenta",
    State.RETRYING: "yellow", State.RETRIED: "dim", State.SKIPPED: "dim",
}
LEVEL_STYLES = {"ERROR": "bold red", "WARN": "yellow", "INFO": "", "DEBUG": "dim", "TRACE": "dim"}


def state_text(state: State) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _run_label(run: TaskRun, now: datetime) -> Text:
    label = Text(run.task_id, style="bold")
    if run.value is not None:
        label.append(f" [{run.value}]", style="dim")
    label.append("  ")
    label.append_text(state_text(run.state.current))
    label.append(f"  {format_seconds(run.state.duration(now))}", style="dim")
    if len(run.attempts) > 1:
        label.append(f"  ({len(run.attempts)} attempts)", style="yellow")
    return label


def execution_tree(execution: Execution, now: datetime) -> Tree:
    """The execution as a tree of task runs (children under their parent task run)."""
    title = Text(f"{execution.namespace}.{execution.flow_id} ", style="bold")
    title.append(execution.id, style="dim")
    title.append("  ")
    title.append_text(state_text(execution.state.current))
    title.append(f"  {format_seconds(execution.state.duration(now))}", style="dim")
    root = Tree(title)
    nodes: dict[str | None, Tree] = {None: root}
    pending = list(execution.task_run_list)
    # Parents are created before their children, so one ordered pass places nearly all of them.
    while pending:
        placed = [run for run in pending if run.parent_task_run_id in nodes]
        if not placed:
            placed = pending  # orphans (parent not listed) go under the root
        for run in placed:
            parent = nodes.get(run.parent_task_run_id, root)
            nodes[run.id] = parent.add(_run_label(run, now))
        pending = [run for run in pending if run.id not in nodes]
    return root


def outputs_table(title: str, outputs: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=True, header_style="bold")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in outputs.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        table.add_row(key, shown)
    return table


def logs_table(logs: Iterable[dict[str, Any]]) -> Table:
    table = Table(title="Logs", title_justify="left", header_style="bold")
    for column in ("time", "task", "level", "message"):
        table.add_column(column, overflow="fold")
    for log in logs:
        level = str(log.get("level", ""))
        stamp = str(log.get("timestamp", ""))[11:23]
        table.add_row(stamp, str(log.get("taskId") or ""), Text(level, style=LEVEL_STYLES.get(level, "")),
                      str(log.get("message", "")))
    return table


def execution_summary(execution: Execution, logs: list[dict[str, Any]], now: datetime) -> RenderableType:
    parts: list[RenderableType] = [execution_tree(execution, now)]
    task_outputs = {run.task_id + (f"[{run.value}]" if run.value is not None else ""): run.outputs
                    for run in execution.task_run_list if run.outputs}
    if task_outputs:
        parts.append(outputs_table("Task outputs", task_outputs))
    if execution.outputs:
        parts.append(outputs_table("Flow outputs", execution.outputs))
    if logs:
        parts.append(logs_table(logs))
    return Group(*parts)
