"""Test helpers for the executor: a test registry, a fixed clock and an inline fake worker.

``Harness`` drives ``advance`` like the services layer would: it answers DispatchTaskRuns with
TaskRunResult events computed by a tiny in-process fake worker, fires timers on request (moving
the fixed clock to the timer's date), and records every command. Test-only task types are named
``podium.test.*`` so nobody mistakes them for real plugins.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from engine.executor import (
    DispatchTaskRuns,
    ScheduleTimer,
    Start,
    StartSubflow,
    Step,
    TaskRunResult,
    TimerFired,
    advance,
    create_execution,
)
from engine.executor.commands import Command
from engine.executor.events import Event
from engine.loader import load_flow_text
from engine.model.execution import Execution
from engine.model.flow import Flow
from engine.model.task import TaskOptions
from engine.plugins.base import PluginKind, PluginSpec, Registry
from engine.plugins.registry import builtin_specs
from engine.state import State
from engine.templating import Renderer
from engine.variables import build_variables

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CONFORMANCE = Path("/work/shared/conformance/kestra-core/flows")
FAKE = "podium.test.Echo"


class FakeEchoOptions(TaskOptions):
    """Test fake: outputs ``{value: <rendered format>}``; ``fail`` makes the attempt FAILED,
    ``failAttempts`` fails only the first N attempts, ``result`` forces another end state."""

    format: str | None = None
    fail: bool = False
    fail_attempts: int = Field(0, ge=0)
    result: State | None = None


def test_registry() -> Registry:
    spec = PluginSpec(type=FAKE, kind=PluginKind.RUNNABLE, options=FakeEchoOptions,
                      title="Test fake: echo a rendered format")
    return Registry([*builtin_specs(), spec])


RENDERER = Renderer()
REGISTRY = test_registry()


def load(source: str) -> Flow:
    return load_flow_text(source, REGISTRY).flow


def load_conformance(name: str) -> Flow:
    return load((CONFORMANCE / name).read_text(encoding="utf-8"))


@dataclass
class Harness:
    flow: Flow
    inputs: dict[str, Any] = field(default_factory=dict)
    now: datetime = T0
    execution: Execution | None = None
    commands: list[Command] = field(default_factory=list)
    timers: list[ScheduleTimer] = field(default_factory=list)
    # dispatched work, in order: a task run id (group member) or a tuple of ids (a chain)
    pending: list[Any] = field(default_factory=list)
    hold: set[str] = field(default_factory=set)  # task ids the fake worker leaves RUNNING
    # the rest of a chain whose link is held, by the held task run id: it goes on once that link
    # is run again (re-appended to ``pending``) and succeeds
    held_chains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.execution is None:
            self.execution = create_execution(self.flow, self.inputs, None, self.now)

    # -- driving --------------------------------------------------------------------------
    def send(self, event: Event) -> Step:
        assert self.execution is not None
        step = advance(self.execution, self.flow, event, self.now, registry=REGISTRY, renderer=RENDERER)
        self.execution = step.execution
        self.commands.extend(step.commands)
        for command in step.commands:
            if isinstance(command, DispatchTaskRuns):
                if command.chain:
                    self.pending.append(tuple(command.task_run_ids))
                else:
                    self.pending.extend(command.task_run_ids)
            elif isinstance(command, ScheduleTimer):
                self.timers.append(command)
        return step

    def start(self) -> Harness:
        self.send(Start())
        return self.work()

    def work(self) -> Harness:
        """Runs dispatched task runs on the fake worker until none is left.

        A chain runs link after link, each only once the previous one ended its attempt SUCCESS
        (as ``worker.tasks`` does); a held link holds the rest of its chain.
        """
        while self.pending:
            item = self.pending.pop(0)
            links = tuple(item) if isinstance(item, tuple) else (item,)
            if len(links) == 1 and links[0] in self.held_chains:
                links = (links[0], *self.held_chains.pop(links[0]))
            for index, run_id in enumerate(links):
                if not self.run_link(run_id, links[index + 1:]):
                    break
        return self

    def run_link(self, run_id: str, rest: tuple[str, ...] = ()) -> bool:
        """Runs one dispatched task run; True when its chain may go on."""
        assert self.execution is not None
        run = next((r for r in self.execution.task_run_list if r.id == run_id), None)
        if run is None or run.state.current.is_terminated or not run.attempts:
            return False  # removed (a link its chain never reached) or already ended
        attempt = len(run.attempts)
        if run.task_id in self.hold:
            self.send(TaskRunResult(run_id, attempt, State.RUNNING))
            if rest:
                self.held_chains[run_id] = rest
            return False
        state, outputs = self.fake_worker(run_id)
        self.send(TaskRunResult(run_id, attempt, State.RUNNING))
        self.send(TaskRunResult(run_id, attempt, state, outputs))
        return state == State.SUCCESS

    def fire_next_timer(self) -> ScheduleTimer:
        timer = min(self.timers, key=lambda t: t.at)
        self.timers.remove(timer)
        self.now = max(self.now, timer.at)
        self.send(TimerFired(timer.task_run_id, timer.kind, timer.payload))
        self.work()
        return timer

    def run_timers(self, limit: int = 500) -> Harness:
        while self.timers and limit:
            self.fire_next_timer()
            limit -= 1
        return self

    # -- the fake worker ------------------------------------------------------------------
    def fake_worker(self, run_id: str) -> tuple[State, dict[str, Any]]:
        execution = self.execution
        assert execution is not None
        run = execution.task_run(run_id)
        task = self.flow.find_task(run.task_id)
        context = build_variables(self.flow, execution, run, task)
        try:
            return _emulate(task, context, len(run.attempts))
        except Exception:  # noqa: BLE001 - a property that fails to render fails the attempt, as on a real worker
            return State.FAILED, {}

    # -- reading --------------------------------------------------------------------------
    @property
    def current(self) -> Execution:
        assert self.execution is not None, "made in __post_init__ when not given"
        return self.execution

    def runs(self, task_id: str) -> list[Any]:
        return [r for r in self.current.task_run_list if r.task_id == task_id]

    def run(self, task_id: str, value: str | None = None) -> Any:
        return next(r for r in self.runs(task_id) if value is None or r.value == value)

    @property
    def state(self) -> State:
        return self.current.state.current

    @property
    def count(self) -> int:
        return len(self.current.task_run_list)

    def of_type(self, kind: type) -> list[Any]:
        return [c for c in self.commands if isinstance(c, kind)]


def _emulate(task: Any, context: dict[str, Any], attempt: int) -> tuple[State, dict[str, Any]]:
    """What the core runnables do, enough for executor tests (test fake, not the real tasks)."""
    name = task.type.rsplit(".", 1)[-1]
    if task.type == FAKE:
        if task.fail or attempt <= task.fail_attempts:
            return State.FAILED, {}
        value = RENDERER.render(task.format, context) if task.format else None
        return task.result or State.SUCCESS, ({"value": value} if value is not None else {})
    if name == "Return":
        return State.SUCCESS, {"value": RENDERER.render(task.format or "", context)}
    if name == "Log":
        messages = task.message if isinstance(task.message, list) else [task.message]
        for message in messages:
            RENDERER.render(message, context)
        return State.SUCCESS, {}
    if name == "Fail":
        condition = getattr(task, "condition", None)
        if condition is None or RENDERER.render(str(condition), context).strip() not in ("false", "0", ""):
            return State.FAILED, {}
        return State.SUCCESS, {}
    if name == "OutputValues":
        return State.SUCCESS, {"values": RENDERER.render_value(task.values or {}, context)}
    return State.SUCCESS, {}


def subflow_commands(harness: Harness) -> list[StartSubflow]:
    return harness.of_type(StartSubflow)


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
