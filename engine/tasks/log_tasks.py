"""L2 adapter: runs ``log.Log`` and ``log.Fetch``."""
from __future__ import annotations

import json
from typing import Any

from engine.plugins.core.log import FetchOptions, LogOptions
from engine.tasks.context import RunContext


def run_log(options: LogOptions, ctx: RunContext) -> None:
    """Logs the message, or each message of the list, at ``level`` (Kestra logs them one by one)."""
    messages = options.message if isinstance(options.message, list) else [options.message]
    for message in messages:
        rendered = ctx.render(message)
        ctx.logger.log(options.level, rendered if isinstance(rendered, str) else json.dumps(rendered))


def run_fetch(options: FetchOptions, ctx: RunContext) -> dict[str, Any]:
    """Writes the logs of an execution (the current one by default), one JSON record a line.

    Kestra writes Amazon ION; a JSON object per line is valid ION text, so readers of either work.
    """
    namespace = ctx.render_text(options.namespace) or ctx.namespace
    flow_id = ctx.render_text(options.flow_id) or ctx.flow_id
    execution_id = ctx.render_text(options.execution_id) or ctx.execution_id
    task_ids = ctx.render(options.tasks_id)
    if isinstance(task_ids, str):
        task_ids = [task_ids]
    lines: list[str] = []
    for task_id in task_ids or [None]:
        for entry in ctx.log_reader.find(namespace, flow_id, execution_id, task_id=task_id,
                                         min_level=options.level):
            lines.append(json.dumps(dict(entry), default=str))
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    uri = ctx.put_output_file(f"{ctx.task_run_id}-logs.ion", data)
    return {"size": len(lines), "uri": uri}
