"""Whether a known plugin type can run in this installation, read from the registry.

A type can be known (its flows validate) and still not run here: its spec says
``implemented=False``, or its ``probe`` finds an optional dependency missing (a Python package,
a program on PATH). ``podium flow validate`` warns about such tasks and ``podium run`` refuses
their flows before starting (engine/flow_warnings.py locates them in the file). The probes
look at the environment (imports, PATH), so this module is not part of the pure core.
"""
from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.model.flow import Flow
from engine.plugins.base import Options, PluginSpec, Registry

Probe = Callable[[], str | None]


@dataclass(frozen=True)
class Unrunnable:
    """A task of a flow whose type (or whose task runner's type) cannot run here."""

    task_id: str
    type: str
    reason: str
    runner: bool = False  # the type is the task's ``taskRunner``'s

    @property
    def message(self) -> str:
        what = "task runner type" if self.runner else "task type"
        return f"{what} '{self.type}' is known but cannot run in this installation: {self.reason}"


def unrunnable_reason(spec: PluginSpec) -> str | None:
    """Why ``spec``'s type cannot run here, or None when it can."""
    if not spec.implemented:
        return "it is not implemented in Podium yet; replace the task " \
               "(`podium plugins list` marks the types that run)"
    return spec.probe() if spec.probe is not None else None


def unrunnable_tasks(flow: Flow, registry: Registry) -> list[Unrunnable]:
    """Every task of ``flow`` (nested ones, errors, finally, afterExecution included) whose type or
    task runner cannot run here; each type is probed once."""
    reasons: dict[str, str | None] = {}

    def reason(type_name: str) -> str | None:
        if type_name not in reasons:
            spec = registry.find(type_name)
            reasons[type_name] = unrunnable_reason(spec) if spec is not None else None
        return reasons[type_name]

    found: list[Unrunnable] = []
    for task in flow.all_tasks():
        why = reason(task.type)
        if why is not None:
            found.append(Unrunnable(task.id, task.type, why))
        runner = _task_runner(task)
        why = reason(runner) if runner is not None else None
        if runner is not None and why is not None:
            found.append(Unrunnable(task.id, runner, why, runner=True))
    return found


def _task_runner(task: Options) -> str | None:
    runner: Any = getattr(task, "task_runner", None)
    type_name = getattr(runner, "type", None)
    return type_name if isinstance(type_name, str) else None


def requires_module(module: str, install: str) -> Probe:
    """A probe: the Python package providing ``module`` must be importable (``install`` says how)."""
    def probe() -> str | None:
        try:
            missing = importlib.util.find_spec(module) is None
        except (ImportError, ValueError):  # a parent package is missing, or a broken install
            missing = True
        return f"it needs the Python module '{module}'; {install}" if missing else None
    return probe


def requires_program(program: str, install: str) -> Probe:
    """A probe: ``program`` must be on PATH (``install`` says how to get it)."""
    def probe() -> str | None:
        return None if shutil.which(program) else f"it needs the program '{program}' on PATH; {install}"
    return probe
