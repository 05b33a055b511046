"""L2 adapter: the ``trigger.Toggle`` task: enable or disable a trigger of a flow.

The trigger's stored state is changed through the run context's ``triggers``
(:class:`~engine.tasks.protocols.TriggerControl`, the services' ``TriggerSwitch``): a disabled
Flow trigger starts nothing, a disabled Schedule does not fire. Namespace and flow default to the
current execution's.
"""
from __future__ import annotations

from engine.plugins.core.namespace import ToggleOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_text


def run_toggle(options: ToggleOptions, ctx: RunContext) -> None:
    namespace = as_text(ctx, options.namespace, "namespace") if options.namespace else ctx.namespace
    flow_id = as_text(ctx, options.flow_id, "flowId") if options.flow_id else ctx.flow_id
    trigger = as_text(ctx, options.trigger, "trigger")
    enabled = as_bool(ctx, options.enabled, "enabled")
    try:
        ctx.triggers.set_enabled(namespace, flow_id, trigger, enabled)
    except LookupError as err:
        raise TaskFailed(str(err.args[0] if err.args else err)) from None
    ctx.logger.info(f"trigger {trigger} of {namespace}.{flow_id} {'enabled' if enabled else 'disabled'}")
