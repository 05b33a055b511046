"""Known but unrunnable task types, from the registry: ``implemented=False`` and dependency probes."""
from __future__ import annotations

import sys

from engine.flow_warnings import unrunnable_problems
from engine.loader import load_flow_text
from engine.model.task import TaskOptions
from engine.plugins.availability import requires_module, requires_program, unrunnable_tasks
from engine.plugins.base import PluginKind, PluginSpec, Registry
from engine.plugins.registry import default_registry


class _Options(TaskOptions):
    pass


def _registry(probe_result: str | None) -> Registry:
    registry = default_registry()
    registry.register(PluginSpec(type="acme.Probed", kind=PluginKind.RUNNABLE, options=_Options, title="t",
                                 implementation="acme:run", probe=lambda: probe_result))
    return registry


SOURCE = """\
id: f
namespace: n
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: probed
        type: acme.Probed
"""


def test_a_failing_probe_makes_the_task_unrunnable_where_it_is_written() -> None:
    registry = _registry("it needs the program 'acme' on PATH; install it")
    flow = load_flow_text(SOURCE, registry).flow
    [item] = unrunnable_tasks(flow, registry)
    assert (item.task_id, item.type, item.runner) == ("probed", "acme.Probed", False)
    [problem] = unrunnable_problems(flow, registry, SOURCE, "f.yaml")
    assert str(problem) == ("f.yaml:8:15: tasks[0].tasks[0].type: task type 'acme.Probed' is known but cannot run "
                            "in this installation: it needs the program 'acme' on PATH; install it")


def test_a_passing_probe_and_implemented_types_give_nothing() -> None:
    registry = _registry(None)
    assert unrunnable_tasks(load_flow_text(SOURCE, registry).flow, registry) == []


def test_the_probes_look_at_this_installation() -> None:
    assert requires_module("json", "pip install json")() is None
    assert requires_module("no_such_module_podium.x", "pip install it")() == (
        "it needs the Python module 'no_such_module_podium.x'; pip install it")
    assert requires_program(sys.executable, "install Python")() is None
    assert requires_program("no-such-program-podium", "install it")() == (
        "it needs the program 'no-such-program-podium' on PATH; install it")
