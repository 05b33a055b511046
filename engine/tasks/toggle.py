"""L2 adapter: the ``trigger.Toggle`` task: enable or disable a trigger of a flow.

The trigger's stored state is changed through the run context's :class:`TriggerControl`
(the services' ``TriggerSwitch``): a disabled Flow trigger starts nothing, a disabled
Schedule does not fire. Namespace and flow default to the current execution's.
"""
from __future__ import annotations

from typing import Protocol

from engine.plugins.core.namespace import ToggleOptions
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_text


class TriggerControl(Protocol):
    """What ``trigger.Toggle`` needs from the rest of Podium."""

    def set_enabled(self, namespace: str, flow_id: str, trigger_id: str, enabled: bool) -> None:
        """Enables or disables the trigger; raises LookupError (user-facing message) when the
        flow or the trigger does not exist."""


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
