"""L2 adapter: runs ``execution.Fail`` and ``execution.Resume``."""
from __future__ import annotations

from engine.plugins.core.execution import FailOptions, ResumeOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import is_truthy


def run_fail(options: FailOptions, ctx: RunContext) -> None:
    """Fails with ``errorMessage``; with a ``condition``, only when it renders truthy."""
    if options.condition is not None:
        condition = options.condition if isinstance(options.condition, bool) else ctx.render(options.condition)
        if not is_truthy(condition):
            return
    raise TaskFailed(ctx.render_text(options.error_message) or "Task failure")


def run_resume(options: ResumeOptions, ctx: RunContext) -> None:
    """Resumes a paused execution: by default of this flow, and this execution when no id is given."""
    namespace = ctx.render_text(options.namespace) or ctx.namespace
    flow_id = ctx.render_text(options.flow_id) or ctx.flow_id
    execution_id = ctx.render_text(options.execution_id) or ctx.execution_id
    inputs = ctx.render(options.inputs) if options.inputs else None
    ctx.executions.resume(namespace, flow_id, execution_id, inputs)
    ctx.logger.info(f"Execution '{execution_id}' of flow '{namespace}.{flow_id}' resumed")
