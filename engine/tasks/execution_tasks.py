"""L2 adapter: runs ``execution.Fail``, ``execution.Assert`` and ``execution.Resume``."""
from __future__ import annotations

from engine.plugins.core.execution import AssertOptions, FailOptions, ResumeOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import is_truthy
from engine.templating.truth import is_truthy as is_true_text


def run_fail(options: FailOptions, ctx: RunContext) -> None:
    """Fails with ``errorMessage``; with a ``condition``, only when it renders truthy."""
    if options.condition is not None:
        condition = options.condition if isinstance(options.condition, bool) else ctx.render(options.condition)
        if not is_truthy(condition):
            return
    raise TaskFailed(ctx.render_text(options.error_message) or "Task failure")


def run_assert(options: AssertOptions, ctx: RunContext) -> None:
    """Renders every condition, logs each false one, and fails once they were all checked
    (Kestra's message: ``2 assertions failed!``, then ``errorMessage`` on its own line)."""
    failed = 0
    for condition in options.conditions:
        try:
            rendered = ctx.render_text(condition)
        except Exception as error:  # noqa: BLE001 - a condition that does not render counts as failed, as in Kestra
            ctx.logger.error(f"Assertion `{condition}` failed, failed to render `{error}`")
            failed += 1
            continue
        if not is_true_text(rendered):
            ctx.logger.error(f"Assertion `{condition}` failed!")
            failed += 1
    ctx.metric("success", len(options.conditions) - failed)
    ctx.metric("failed", failed)
    if failed:
        detail = ctx.render_text(options.error_message) if options.error_message is not None else None
        plural = "s" if failed > 1 else ""
        raise TaskFailed(f"{failed} assertion{plural} failed!" + (f"\n{detail}" if detail else ""))


def run_resume(options: ResumeOptions, ctx: RunContext) -> None:
    """Resumes a paused execution: by default of this flow, and this execution when no id is given."""
    namespace = ctx.render_text(options.namespace) or ctx.namespace
    flow_id = ctx.render_text(options.flow_id) or ctx.flow_id
    execution_id = ctx.render_text(options.execution_id) or ctx.execution_id
    inputs = ctx.render(options.inputs) if options.inputs else None
    ctx.executions.resume(namespace, flow_id, execution_id, inputs)
    ctx.logger.info(f"Execution '{execution_id}' of flow '{namespace}.{flow_id}' resumed")
