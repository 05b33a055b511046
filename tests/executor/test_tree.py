"""FlowTree: one per parsed flow object, built once (the executor asks for it on every event)."""
from __future__ import annotations

from engine.executor.tree import flow_tree
from engine.loader import load_flow_text
from engine.plugins.base import Registry
from engine.plugins.registry import builtin_specs

FLOW = """
id: tree
namespace: tests.tree
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: off
    type: io.kestra.plugin.core.log.Log
    message: skipped
    disabled: true
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""


def _registry() -> Registry:
    return Registry(builtin_specs())


def test_the_tree_of_a_flow_object_is_built_once_per_registry() -> None:
    registry = _registry()
    flow = load_flow_text(FLOW, registry).flow
    tree = flow_tree(flow, registry)
    assert flow_tree(flow, registry) is tree
    assert tree.node("inner").parent_id == "loop"
    assert [r.task_id for r in tree.root_branches.tasks] == ["first", "loop"]  # disabled left out
    assert flow_tree(load_flow_text(FLOW, registry).flow, registry) is not tree  # another revision's object
    assert flow_tree(flow, _registry()) is not tree
