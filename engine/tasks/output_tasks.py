"""L2 adapter: runs ``output.OutputValues``."""
from __future__ import annotations

from typing import Any

from engine.plugins.core.output import OutputValuesOptions
from engine.tasks.context import RunContext


def run_output_values(options: OutputValuesOptions, ctx: RunContext) -> dict[str, Any]:
    # Strings are rendered as text, as Kestra's render(Map) does: '{{ 1 + 1 }}' gives "2".
    return {"values": ctx.render(options.values or {})}
