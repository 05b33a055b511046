"""The worker's per-attempt parts: log lines held until the result, the shared heartbeat thread,
and the reused task threads (worker/attempt_logs.py, lease_keeper.py, engine/tasks/threads.py)."""
from __future__ import annotations

import contextvars
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.dispatch import TaskRunRef
from engine.model.task import LogLevel
from engine.persistence.logs import LogEntry, LogRepository
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.debug import ReturnOptions
from engine.settings import Settings
from engine.state import State
from engine.tasks.threads import ReusedThreads
from tests.persistence.factories import at
from tests.services.conftest import Engine
from worker import attempt_logs
from worker.attempt_logs import AttemptLogs
from worker.lease_keeper import Heartbeats

RELEASE = threading.Event()
LONG = """
id: long
namespace: tests.worker
tasks:
  - id: slow
    type: test.LogThenWait
"""


def log_then_wait(options: ReturnOptions, ctx: Any) -> None:
    ctx.logger.info("before the wait")
    if not RELEASE.wait(30):
        raise TimeoutError("the test never released the task")
    ctx.logger.info("after the wait")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, worker={"running_report_after": 0.05})


def _wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_running_attempt_s_log_lines_are_readable_before_it_ends(engine: Engine) -> None:
    engine.services.env.registry.register(PluginSpec(
        type="test.LogThenWait", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
        implementation="tests.services.test_worker_parts:log_then_wait"))
    RELEASE.clear()
    flow = engine.deploy(LONG)
    execution = engine.services.start_execution(flow.namespace, flow.id)
    runner = threading.Thread(target=engine.drain)
    runner.start()
    try:
        # Reported RUNNING after running_report_after: its held lines are written from then on.
        assert _wait_for(lambda: engine.messages(execution.id) == ["before the wait"])
    finally:
        RELEASE.set()
        runner.join(30)
    assert engine.services.get_execution(execution.id).state.current == State.SUCCESS
    assert engine.messages(execution.id) == ["before the wait", "after the wait"]


def _line(message: str) -> LogEntry:
    return LogEntry(namespace="ns", flow_id="f", execution_id="e1", task_run_id="r1", task_id="t1",
                    attempt_number=1, level=LogLevel.INFO, timestamp=at(0), message=message)


def test_held_lines_are_handed_over_then_written_as_they_come(db: Any) -> None:
    repository = LogRepository(db)
    logs = AttemptLogs(repository)
    logs.append(_line("one"))
    logs.append(_line("two"))
    assert repository.for_execution("e1") == []  # held: they go with the result
    assert [entry.message for entry in logs.take()] == ["one", "two"]
    logs.append(_line("late"))  # a task thread that outlived its attempt
    assert [entry.message for entry in repository.for_execution("e1")] == ["late"]


def test_too_many_held_lines_are_written_at_once(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempt_logs, "MAX_HELD", 3)
    repository = LogRepository(db)
    logs = AttemptLogs(repository)
    for index in range(4):
        logs.append(_line(str(index)))
    assert [entry.message for entry in repository.for_execution("e1")] == ["0", "1", "2", "3"]
    assert logs.take() == []


def _ref(task_run_id: str) -> TaskRunRef:
    return TaskRunRef(execution_id="e", task_run_id=task_run_id, attempt=1, task_id="t", task_type="x", flow="f")


def test_one_heartbeat_thread_announces_renews_and_cancels_a_superseded_attempt() -> None:
    renewals: list[str] = []
    superseded = {"b"}

    def renew(ref: TaskRunRef) -> bool:
        renewals.append(ref.task_run_id)
        return ref.task_run_id not in superseded

    heartbeats = Heartbeats(renew, interval=0.05)
    announced = threading.Event()
    cancel_a, cancel_b = threading.Event(), threading.Event()
    beat_a = heartbeats.add(_ref("a"), cancel_a, announced.set, announce_after=0.02)
    beat_b = heartbeats.add(_ref("b"), cancel_b, None, 0.0)
    assert announced.wait(5)
    assert cancel_b.wait(5)  # renewal refused: the attempt is not this worker's any more
    assert _wait_for(lambda: renewals.count("a") >= 2)
    beat_a.stop()
    beat_b.stop()
    time.sleep(0.2)  # a renewal picked just before the stop may still land
    count = len(renewals)
    time.sleep(0.3)
    assert len(renewals) == count  # stopped: no more renewals
    assert not cancel_a.is_set()
    assert sum(thread.name == "podium-heartbeats" for thread in threading.enumerate()) >= 1


def test_a_heartbeat_stopped_before_its_announce_never_announces() -> None:
    heartbeats = Heartbeats(lambda ref: True, interval=10)
    announced = threading.Event()
    heartbeats.add(_ref("a"), threading.Event(), announced.set, announce_after=0.1).stop()
    assert not announced.wait(0.3)


REQUEST = contextvars.ContextVar("request", default="none")


def test_task_threads_are_reused_and_see_the_submitter_s_context_only() -> None:
    threads = ReusedThreads("test-task")
    seen: list[tuple[int, str]] = []
    done = threading.Semaphore(0)

    def job() -> None:
        seen.append((threading.get_ident(), REQUEST.get()))
        REQUEST.set("leaked")  # must not reach the next function run on this thread
        done.release()

    token = REQUEST.set("first")
    threads.submit(job)
    assert done.acquire(timeout=5)
    REQUEST.reset(token)
    assert _wait_for(lambda: threads._idle == 1)  # the thread went back to waiting
    threads.submit(job)
    assert done.acquire(timeout=5)
    assert seen[0][1] == "first" and seen[1][1] == "none"
    assert seen[0][0] == seen[1][0]  # the same thread ran both


def test_busy_task_threads_do_not_hold_back_a_new_function() -> None:
    threads = ReusedThreads("test-task")
    stuck, ran = threading.Event(), threading.Event()
    threads.submit(lambda: stuck.wait(5))  # a task that ignores its cancel event
    threads.submit(ran.set)
    assert ran.wait(5)
    stuck.set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_task_threads_start_afresh_in_a_forked_child() -> None:
    threads = ReusedThreads("test-task")
    done = threading.Event()
    threads.submit(done.set)
    assert done.wait(5)
    assert _wait_for(lambda: threads._idle == 1)  # one idle thread in this process
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle thread does not exist here
        ran = threading.Event()
        threads.submit(ran.set)
        os._exit(0 if ran.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
