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


def logs_table(logs: Iterable[dict[str, Any]], *, source: str = "taskId") -> Table:
    """Log lines (Kestra's LogEntry JSON); ``source`` names what wrote each: a task, or a trigger."""
    table = Table(title="Logs", title_justify="left", header_style="bold")
    for column in ("time", "task" if source == "taskId" else "trigger", "level", "message"):
        table.add_column(column, overflow="fold")
    for log in logs:
        level = str(log.get("level", ""))
        stamp = str(log.get("timestamp", ""))[11:23] if source == "taskId" else str(log.get("timestamp", ""))[:23]
        table.add_row(stamp, str(log.get(source) or ""), Text(level, style=LEVEL_STYLES.get(level, "")),
                      str(log.get("message", "")))
    return table


# The columns of `podium execution list` after the id, with the narrowest width each stays readable
# at; the optional ones (last first) are left out when the terminal cannot hold them all.
LIST_COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("flow", 10, False), ("state", 9, False), ("started", 10, True), ("duration", 8, True))
CELL_CHROME = 3  # a column's padding and border in rich's default box


def executions_table(executions: Iterable[Execution], now: datetime, width: int) -> tuple[Table, int]:
    """The table of ``podium execution list`` and the width to print it at: ids whole (they are
    copied into show/kill), the other columns folded to fit ``width``, the optional ones left out
    when even folded they cannot; a terminal too narrow for the rest gets a wider table, which it
    wraps line by line, rather than a cut id."""
    rows = list(executions)
    id_width = max([len("id"), *(len(item.id) for item in rows)])
    columns = list(LIST_COLUMNS)

    def least_width() -> int:
        return 1 + id_width + CELL_CHROME + sum(least + CELL_CHROME for _, least, _ in columns)

    while columns[-1][2] and least_width() > width:
        columns.pop()
    table = Table(header_style="bold")
    table.add_column("id", no_wrap=True, min_width=id_width)
    for name, least, _ in columns:
        table.add_column(name, overflow="fold", min_width=least)
    for item in rows:
        start = item.state.start_date
        cells: dict[str, str | Text] = {
            "flow": f"{item.namespace}.{item.flow_id}", "state": state_text(item.state.current),
            "started": start.strftime("%Y-%m-%d %H:%M:%S") if start else "",
            "duration": format_seconds(item.state.duration(now))}
        table.add_row(item.id, *(cells[name] for name, _, _ in columns))
    return table, max(width, least_width())


def metrics_table(metrics: Iterable[dict[str, Any]]) -> Table:
    """The metrics task runs reported (Kestra's MetricEntry JSON), one row each."""
    table = Table(title="Metrics", show_lines=False)
    for name in ("task", "name", "type", "value", "tags"):
        table.add_column(name, overflow="fold")
    for metric in metrics:
        value = metric["value"]
        shown = format_seconds(value) if metric["type"] == "timer" else f"{value:g}"
        tags = ", ".join(f"{k}={v}" for k, v in sorted(metric.get("tags", {}).items()))
        table.add_row(metric["taskId"], metric["name"], metric["type"], shown, tags)
    return table


def execution_summary(execution: Execution, logs: list[dict[str, Any]], now: datetime,
                      metrics: list[dict[str, Any]] | None = None) -> RenderableType:
    parts: list[RenderableType] = [execution_tree(execution, now)]
    task_outputs = {run.task_id + (f"[{run.value}]" if run.value is not None else ""): run.outputs
                    for run in execution.task_run_list if run.outputs}
    if task_outputs:
        parts.append(outputs_table("Task outputs", task_outputs))
    if execution.outputs:
        parts.append(outputs_table("Flow outputs", execution.outputs))
    if metrics:
        parts.append(metrics_table(metrics))
    if logs:
        parts.append(logs_table(logs))
    return Group(*parts)
