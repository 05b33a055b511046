"""A timeout or a kill stops the task for real: its thread ends, its subprocesses too.

The tasks here are test plugins that ignore their cancel event (Python code looping, code that
catches every exception, a shell script with a background job); each would run 60 s if nothing
stopped it. Waits are deadlines meant to catch a hang, never speed assertions.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.model.task import LogLevel
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.debug import ReturnOptions
from engine.state import State
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskOutcome
from engine.tasks.processes import run_process
from engine.tasks.runner import has_runaways, run_task, wait_for_runaways
from engine.tasks.threads import ReusedThreads, Stopped
from tests.tasks.helpers import World

# What the running test plugin shares with its test: its thread, how far it got, its files.
SEEN: dict[str, Any] = {}


def spin(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    """Python code that ignores its cancel event and holds more memory as it goes."""
    SEEN["thread"], SEEN["steps"] = threading.current_thread(), 0
    held: list[bytes] = []
    end = time.monotonic() + 60
    while time.monotonic() < end:
        held.append(bytes(1000))
        SEEN["steps"] += 1
        time.sleep(0.001)
    return {}


def spin_catching(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    """Like ``spin``, inside a loop that catches every Exception."""
    SEEN["thread"] = threading.current_thread()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            time.sleep(0.001)
            raise ValueError("retried")
        except Exception:  # noqa: BLE001 - the careless task this test is about
            pass
    return {}


def swallow_for_3s(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    """Catches even BaseException for 3 s: it outlives any stop, then ends."""
    SEEN["thread"] = threading.current_thread()
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:  # noqa: SIM105 - a suppress() would let a stop through in its own __exit__
            time.sleep(0.01)
        except BaseException:  # noqa: BLE001 - the runaway this test is about
            pass
    return {}


def shell_with_children(options: ReturnOptions, ctx: RunContext) -> dict[str, Any]:
    """A shell that starts a background job, both of them sleeping 60 s."""
    pids = SEEN["pids"]
    run_process(ctx, ["sh", "-c", f"sleep 60 & echo $$ $! > {pids}; wait"])
    return {}


def _spec(name: str) -> PluginSpec:
    return PluginSpec(type=f"test.{name}", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation=f"tests.tasks.test_timeouts:{name}")


def _run(world: World, name: str, timeout: str | None = "PT1S", **kwargs: Any) -> TaskOutcome:
    """Runs the task from a thread of its own, as a worker slot would (runaways count per slot)."""
    options = ReturnOptions(id="task", type=f"test.{name}", timeout=timeout)
    return _in_a_slot(lambda: _run_here(world, name, options, **kwargs))


def _run_here(world: World, name: str, options: ReturnOptions, **kwargs: Any) -> TaskOutcome:
    with world.context("task", task_run_id="run-1") as ctx:
        outcome = run_task(_spec(name), options, ctx, **kwargs)
    SEEN["runaway"] = has_runaways()
    return outcome


def _in_a_slot(function: Callable[[], TaskOutcome]) -> TaskOutcome:
    done: list[TaskOutcome] = []
    slot = threading.Thread(target=lambda: done.append(function()))
    slot.start()
    slot.join(60)
    assert done, "the run did not end"
    return done[0]


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _stopped(thread: threading.Thread) -> bool:
    return thread not in threading.enumerate()


def test_a_timeout_stops_python_code_that_ignores_it(world: World) -> None:
    outcome = _run(world, "spin")
    assert outcome.state is State.FAILED
    assert outcome.error == "Timeout after PT1S"
    assert world.messages(LogLevel.ERROR) == ["Timeout after PT1S"]
    thread = SEEN["thread"]
    assert _eventually(lambda: _stopped(thread)), "the task's thread still runs after its timeout"
    steps = SEEN["steps"]
    time.sleep(0.3)
    assert SEEN["steps"] == steps  # it holds no more memory, takes no more CPU
    assert SEEN["runaway"] is False


def test_catching_every_exception_does_not_keep_a_task_running(world: World) -> None:
    assert _run(world, "spin_catching").state is State.FAILED
    thread = SEEN["thread"]
    assert _eventually(lambda: _stopped(thread))


def test_a_kill_stops_python_code_that_ignores_it(world: World) -> None:
    options = ReturnOptions(id="task", type="test.spin")
    with world.context("task") as ctx:
        killer = threading.Timer(0.3, ctx.cancel_event.set)
        killer.start()
        outcome = _in_a_slot(lambda: run_task(_spec("spin"), options, ctx))
        killer.join()
    assert outcome.state is State.KILLED
    thread = SEEN["thread"]
    assert _eventually(lambda: _stopped(thread))


def test_a_timeout_stops_the_process_group_a_task_started(world: World, tmp_path: Path) -> None:
    SEEN["pids"] = pids = tmp_path / "pids"
    outcome = _run(world, "shell_with_children")
    assert outcome.state is State.FAILED and outcome.error == "Timeout after PT1S"
    shell, child = (int(pid) for pid in pids.read_text().split())
    assert _eventually(lambda: _gone(shell) and _gone(child)), "the task's processes outlived it"


def test_a_task_that_outlives_its_stop_holds_its_slot_until_it_ends(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="podium.tasks")
    options = ReturnOptions(id="task", type="test.swallow_for_3s", timeout="PT0.2S")

    def slot() -> TaskOutcome:
        outcome = _run_here(world, "swallow_for_3s", options, cooperative=0.1, stop_grace=0.3)
        SEEN["alive_when_reported"] = SEEN["thread"].is_alive()
        wait_for_runaways("task run run-1")  # what the worker does once the result is written
        SEEN["runaway_after_wait"] = has_runaways()
        return outcome

    outcome = _in_a_slot(slot)
    assert outcome.state is State.FAILED
    assert SEEN["alive_when_reported"] and SEEN["runaway"]  # reported without waiting for the thread
    assert any("task run run-1" in record.getMessage() for record in caplog.records)
    assert any("holds its worker slot" in message for message in world.messages(LogLevel.WARN))
    assert not SEEN["thread"].is_alive() and not SEEN["runaway_after_wait"]  # the slot waited for it


def test_a_stop_sent_as_the_function_returns_never_reaches_other_code() -> None:
    threads = ReusedThreads("test-stop")
    for _ in range(200):
        ended = threading.Event()
        running = threads.submit(ended.set)
        ended.wait(5)
        running.stop()  # races the function's end
        assert running.ended.wait(5)
    follow_up = threading.Event()
    threads.submit(follow_up.set)
    assert follow_up.wait(5)  # the threads that ran those are idle or gone, not broken


def test_stopped_is_not_an_exception_a_task_catches_by_accident() -> None:
    assert not issubclass(Stopped, Exception)


def _gone(pid: int) -> bool:
    """Whether ``pid`` ended (a zombie waiting for its parent to reap it counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
