"""L1 pure core: options of the tasks that start child executions (Subflow, ForEachItem).

A Subflow is one executable task: the executor turns it into a ``StartSubflow`` command, the
services layer creates the child execution and reports back (``SubflowStarted``, ``SubflowEnded``).

A ForEachItem is, as in Kestra, a flowable whose three internal tasks run one after the other,
each with its task run in the execution: ``<id>_split`` splits ``items`` into batch files
(output ``splits``, the file listing them), ``<id>_items`` starts one child execution per batch
(outputs ``numberOfBatches`` and ``iterations``, the children counted by state) and
``<id>_merge`` merges the children's flow outputs into one file (output ``subflowOutputs``).
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import Field, model_validator

from engine.model.task import FlowableOptions, TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec
from engine.plugins.core.flow import LEGACY, PREFIX

# Labels are a map, or Kestra's list of {key, value}.
LabelsValue = dict[str, Any] | list[dict[str, Any]]


class _ChildFlow(Options):
    """What Subflow and ForEachItem share (Kestra's ``ChildFlowInterface``)."""

    namespace: str = dynamic(..., "Namespace of the flow to start.")
    flow_id: str = dynamic(..., "Id of the flow to start.")
    revision: int | None = Field(None, ge=1, description="Revision to run; the latest when absent.")
    inputs: dict[str, Any] | None = dynamic(None, "Inputs of the child execution (rendered).")
    labels: LabelsValue | None = dynamic(None, "Labels added to the child execution.")
    wait: bool = Field(True, description="Wait for the child execution to end.")
    transmit_failed: bool = Field(True, description="A failed child (with wait) fails this task.")
    inherit_labels: bool = Field(False, description="Copy all this execution's labels to the child.")
    schedule_date: str | None = dynamic(None, "Start the child execution at this date (ISO-8601).")


class Subflow(_ChildFlow, TaskOptions):
    outputs: dict[str, Any] | None = dynamic(
        None, "Deprecated: outputs rendered from the child's context; prefer the child flow's `outputs`.")


class Batch(Options):
    rows: int | str | None = dynamic(None, "Items per batch (default 1 when neither bytes nor partitions).")
    bytes: str | None = dynamic(None, "Batch size in bytes, e.g. `10MB`.")
    partitions: int | str | None = dynamic(None, "Number of batches.")
    separator: str = Field(default="\n", description="Item separator.")

    @model_validator(mode="after")
    def _one_size(self) -> Batch:
        given = [n for n in ("rows", "bytes", "partitions") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"batch takes only one of rows, bytes or partitions (got {', '.join(given)})")
        return self


class ForEachItem(_ChildFlow, FlowableOptions):
    items: str = dynamic(..., "A `kestra://` file; one item per line (or per `separator`).")
    batch: Batch = Field(default_factory=Batch, description="How items are grouped per child execution.")

    @cached_property
    def tasks(self) -> list[TaskOptions]:
        """The internal tasks, built once (the executor finds them by identity in its tree).
        Built without validation: their ids add a suffix to a valid id, which may pass 100 chars."""
        child = {name: getattr(self, name) for name in _ChildFlow.model_fields}
        return [ForEachItemSplit.model_construct(id=self.id + SPLIT_SUFFIX, type=SPLIT_TYPE, items=self.items,
                                                 batch=self.batch),
                ForEachItemExecutable.model_construct(id=self.id + ITEMS_SUFFIX, type=ITEMS_TYPE, **child),
                ForEachItemMergeOutputs.model_construct(id=self.id + MERGE_SUFFIX, type=MERGE_TYPE)]


# Kestra's internal task types (nested classes of ForEachItem, hence the ``$``) and id suffixes.
SPLIT_TYPE = PREFIX + "ForEachItem$ForEachItemSplit"
ITEMS_TYPE = PREFIX + "ForEachItem$ForEachItemExecutable"
MERGE_TYPE = PREFIX + "ForEachItem$ForEachItemMergeOutputs"
SPLIT_SUFFIX, ITEMS_SUFFIX, MERGE_SUFFIX = "_split", "_items", "_merge"


class ForEachItemSplit(TaskOptions):
    """Splits ``items`` into batch files; outputs ``splits``, the URI of the file that lists them."""

    items: str
    batch: Batch


class ForEachItemExecutable(_ChildFlow, TaskOptions):
    """Starts one child execution per batch listed by the ``_split`` task run."""


class ForEachItemMergeOutputs(TaskOptions):
    """Merges the flow outputs of the ``_items`` children into ``subflowOutputs``."""


def internal_spec(type_name: str) -> PluginSpec | None:
    """The spec of a ForEachItem internal task type; they are not in the registry, as Kestra's
    internal plugins are not: a flow cannot name them."""
    for options in (ForEachItemSplit, ForEachItemExecutable, ForEachItemMergeOutputs):
        if type_name == f"{PREFIX}ForEachItem${options.__name__}":
            return PluginSpec(type=type_name, kind=PluginKind.EXECUTABLE, options=options,
                              title=options.__doc__ or "")
    return None


_EXAMPLE_SUBFLOW = """\
id: parent
namespace: company.team
tasks:
  - id: call_subflow
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: subflow
    inputs:
      user: Rick Astley
    wait: true
    transmitFailed: true
"""

_EXAMPLE_FOR_EACH_ITEM = """\
id: for_each_item
namespace: company.team
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 4
    namespace: company.team
    flowId: subflow
    inputs:
      items: "{{ taskrun.items }}"
"""

SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "Subflow", kind=PluginKind.EXECUTABLE, options=Subflow,
               title="Create a subflow execution.",
               description="Outputs `executionId`, `state` and the child's flow `outputs`.",
               aliases=(LEGACY + "Subflow", LEGACY + "Flow"), examples=(_EXAMPLE_SUBFLOW,)),
    PluginSpec(type=PREFIX + "ForEachItem", kind=PluginKind.FLOWABLE, options=ForEachItem,
               title="Execute a subflow for each batch of items.",
               description="Splits `items` into batches and starts one child execution per batch, through "
                           "the internal task runs `<id>_split` (output `splits`), `<id>_items` (outputs "
                           "`numberOfBatches`, `iterations`) and `<id>_merge` (output `subflowOutputs`). "
                           "`{{ taskrun.items }}` is the batch file, `{{ taskrun.iteration }}` its index from 0.",
               aliases=(LEGACY + "ForEachItem",), examples=(_EXAMPLE_FOR_EACH_ITEM,)),
]
