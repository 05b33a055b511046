"""L2 adapter: runs ``debug.Return`` and ``debug.Echo``."""
from __future__ import annotations

from typing import Any

from engine.plugins.core.debug import EchoOptions, ReturnOptions
from engine.tasks.context import RunContext


def run_return(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    value = ctx.render_text(options.format)
    ctx.logger.debug(value)
    ctx.metric("length", len(value or ""))
    return {"value": value}


def run_echo(options: EchoOptions, ctx: RunContext) -> None:
    ctx.logger.log(options.level, ctx.render_text(options.format))
