"""L1 pure core: options of ``execution.Labels``, which the executor applies to the execution itself.

Kestra's ``ExecutionUpdatableTask``: no worker involved; the labels are rendered and merged into
the execution's labels (``system.*`` keys are refused), and the task run ends SUCCESS.
"""
from __future__ import annotations

from typing import Any

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec


class Labels(TaskOptions):
    labels: dict[str, Any] | list[dict[str, Any]] | str = dynamic(
        ..., "A map, a list of {key, value}, or an expression rendering to a JSON map.")


_EXAMPLE = """\
id: labels
namespace: company.team
tasks:
  - id: update_labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customerId: "{{ inputs.customer }}"
"""

SPECS: list[PluginSpec] = [
    PluginSpec(type="io.kestra.plugin.core.execution.Labels", kind=PluginKind.EXECUTION_UPDATE,
               options=Labels, title="Add or update labels of the current execution.",
               aliases=("io.kestra.core.tasks.executions.Labels",), examples=(_EXAMPLE,)),
]
