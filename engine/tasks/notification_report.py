"""L2 adapter: what the ``*Execution`` notification tasks report about an execution.

The facts come from the task run's own variables, so no task reads the execution store: the
current execution (``execution.*``: its id, start date and state, RUNNING while this task runs) or
the one that started it through a Flow trigger (``trigger.executionId``, ``trigger.state``...),
which is how Kestra's docs use these tasks. Any other ``executionId`` fails with one line.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.durations import format_duration
from engine.plugins.ext.notifications import ExecutionReport
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_text

# Colours by final state, as the chat services take them.
_COLOURS = {"SUCCESS": "2EB886", "WARNING": "F5A623", "FAILED": "D0021B", "KILLED": "D0021B"}


@dataclass(frozen=True)
class Report:
    execution_id: str
    namespace: str
    flow_id: str
    state: str
    start_date: str | None = None
    duration: str | None = None
    link: str | None = None
    custom_message: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"[{self.namespace}] {self.flow_id} \u279b {self.state}"

    @property
    def colour(self) -> str:
        return _COLOURS.get(self.state, "1D71B8")

    def facts(self) -> list[tuple[str, str]]:
        """Name/value lines every channel shows, in this order."""
        lines = [("Namespace", self.namespace), ("Flow", self.flow_id), ("Execution", self.execution_id),
                 ("State", self.state)]
        lines += [(name, value) for name, value in (("Start date", self.start_date),
                                                    ("Duration", self.duration)) if value]
        return lines + list(self.custom_fields.items())

    def text(self) -> str:
        """The report as plain text lines (mail bodies, chat messages)."""
        lines = [self.custom_message] if self.custom_message else []
        lines += [self.title] + [f"{name}: {value}" for name, value in self.facts()]
        if self.link:
            lines.append(f"Link: {self.link}")
        return "\n".join(lines)


def build_report(options: ExecutionReport, ctx: RunContext) -> Report:
    execution_id = as_text(ctx, options.execution_id, "executionId")
    facts = _execution_facts(execution_id, ctx)
    fields = ctx.render(options.custom_fields) or {}
    return Report(execution_id=execution_id, link=_link(facts, execution_id, ctx),
                  custom_message=ctx.render_text(options.custom_message),
                  custom_fields={str(k): _text(v) for k, v in fields.items()}, **facts)


def _execution_facts(execution_id: str, ctx: RunContext) -> dict[str, Any]:
    current = ctx.variables.get("execution") or {}
    trigger = ctx.variables.get("trigger") or {}
    if execution_id == current.get("id"):
        start = current.get("startDate")
        return {"namespace": ctx.namespace, "flow_id": ctx.flow_id, "state": str(current.get("state") or "RUNNING"),
                "start_date": start, "duration": _duration(start, ctx.now())}
    if isinstance(trigger, Mapping) and execution_id == trigger.get("executionId"):
        return {"namespace": str(trigger.get("namespace")), "flow_id": str(trigger.get("flowId")),
                "state": str(trigger.get("state"))}
    raise TaskFailed(f"executionId '{execution_id}' is neither this execution nor the one whose Flow trigger "
                     "started it: Podium reports only those two; use {{ execution.id }} or "
                     "{{ trigger.executionId }}")


def _duration(start: Any, now: datetime) -> str | None:
    if not isinstance(start, str):
        return None
    try:
        return format_duration(now - datetime.fromisoformat(start.replace("Z", "+00:00")))
    except (ValueError, TypeError):
        return None


def _link(facts: Mapping[str, Any], execution_id: str, ctx: RunContext) -> str | None:
    kestra = ctx.variables.get("kestra") or {}
    base = kestra.get("url") if isinstance(kestra, Mapping) else None
    if not base:
        return None
    return f"{str(base).rstrip('/')}/ui/executions/{facts['namespace']}/{facts['flow_id']}/{execution_id}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
