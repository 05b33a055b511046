"""L3: the worker side: run one attempt of a task run and report it to the executor.

Every message names an attempt; a redelivered message whose attempt already ended is ignored,
so a task run attempt is recorded once even when the broker delivers twice.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from functools import partial
from typing import Any, Iterable, Mapping, Sequence

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.log_config import bind_ids
from engine.model.execution import Execution, TaskRun
from engine.model.task import LogLevel
from engine.persistence.logs import LogEntry as StoredLog
from engine.services.attempt_logs import AttemptLogs
from engine.services.flow_triggers import TriggerSwitch
from engine.services.flows import FlowCatalog
from engine.services.leases import LeaseKeeper
from engine.services.links import carried_runs, carry, overlay
from engine.services.runtime import Env
from engine.state import State
from engine.tasks.context import RunContext, RunIdentity
from engine.tasks.logger import LogEntry
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import run_task
from engine.services.working_directory import run_working_directory
from engine.templating import Renderer
from engine.templating.io import SwitchedIO
from engine.templating.renderer import BoundRenderer
from engine.variables import build_variables

log = logging.getLogger("podium.worker")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
WORKING_DIRECTORY = "io.kestra.plugin.core.flow.WorkingDirectory"
# Variables built from task runs other than the task's own lineage, and the function that renders
# text taken from variables (which may name them).
_READS_OTHER_RUNS = ("outputs", "tasks", "vars", "render")


class TaskRunService:
    def __init__(self, env: Env, catalog: FlowCatalog, executions: Any) -> None:
        self.env = env
        self.catalog = catalog
        self.executions = executions
        self.triggers = TriggerSwitch(env, catalog)
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.leases = LeaseKeeper(env, WORKER_ID)
        self._link = threading.local()  # the chain link this thread runs (run_link)
        self._reads_cache: dict[tuple[str, str, int, str], bool] = {}
        self._shared_renderer = Renderer(SwitchedIO(), default_timezone=env.settings.timezone)

    def run_task_run(self, ref: TaskRunRef) -> None:
        with bind_ids(execution_id=ref.execution_id, task_run_id=ref.task_run_id, task_id=ref.task_id,
                      flow=ref.flow, attempt=ref.attempt):
            self._run_task_run(ref)

    def _run_task_run(self, ref: TaskRunRef) -> None:
        claimed = self._claim(ref)
        if claimed is None:
            return
        execution, run = claimed
        flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
        task = flow.find_task(run.task_id)
        if self._reads_other_runs(flow, task):
            execution = self.env.executions.get(ref.execution_id) or execution
        spec = self.env.registry.resolve(task.type)
        cancel = self._register(ref.task_run_id)
        logs = AttemptLogs(self.env.logs, live=spec.type == WORKING_DIRECTORY)

        def announce() -> None:
            logs.go_live()  # still running: its logs are written as they come from now on
            self._report(ref, State.RUNNING, {}, lease_seconds=self.leases.seconds)

        # The heartbeat sends the RUNNING report only if the attempt still runs after
        # worker.running_report_after: a quick one is one executor event, not two.
        started_at = self.env.clock()
        heartbeat = self.leases.start_heartbeat(ref, cancel, announce, self.env.settings.worker.running_report_after)
        picked_up, started = time.time(), time.perf_counter()
        log.info("task run started", extra={"task_type": ref.task_type})
        try:
            if spec.type == WORKING_DIRECTORY:
                outcome = self._run_working_directory(execution, flow, run, task, ref, cancel, logs)
            else:
                with self._context(execution, flow, run, task, ref, cancel, logs) as ctx:
                    outcome = run_task(spec, task, ctx)
        except BaseException:
            with contextlib.suppress(Exception):  # no result will carry them: write them now
                logs.go_live()
            raise
        finally:
            heartbeat.stop()
            self._unregister(ref.task_run_id)
        self._report(ref, outcome.state, outcome.outputs, started_at=started_at, logs=logs.take())
        self._link.outcome = outcome
        self.env.metrics.attempt_ran(picked_up, time.perf_counter() - started)
        log.info("task run ended", extra={"state": outcome.state.value})

    def _claim(self, ref: TaskRunRef) -> tuple[Execution, TaskRun] | None:
        """Reads the task run's lineage and claims its attempt, in one transaction: (the execution,
        the task run), or None when the attempt is not this worker's to run."""
        with self.env.db.transaction() as tx:
            execution = self.env.executions.get_lineage(ref.execution_id, ref.task_run_id, session=tx)
            if execution is None:
                return None  # deleted meanwhile: nothing to report to
            run = _find(execution, ref.task_run_id)
            if run is None or not self._is_due(run, ref.attempt):
                return None
            killed = execution.state.current in (State.KILLING, State.KILLED)
            if not killed and not self.leases.claim(ref, session=tx):
                return None  # another worker holds this attempt (a duplicate message), or it was superseded
            carried = getattr(self._link, "carried", None)
            if carried and not killed:
                # Links the database shows ended need not travel further down the chain.
                states = self.env.executions.task_run_states(carried, session=tx)
                self._link.carried = {key: value for key, value in carried.items()
                                      if key not in states or not states[key].is_terminated}
        if killed:
            self._report(ref, State.KILLED, {})  # killed before this message was delivered
            return None
        return execution, run

    def _run_working_directory(self, execution: Execution, flow: Any, run: TaskRun, task: Any,
                               ref: TaskRunRef, cancel: threading.Event, logs: AttemptLogs) -> TaskOutcome:
        def make_context(snapshot: Execution, child: TaskRun, child_task: Any, folder: Path) -> RunContext:
            child_ref = TaskRunRef(ref.execution_id, child.id, 1, child.task_id, child_task.type, ref.flow)
            return self._context(snapshot, flow, child, child_task, child_ref, cancel, logs, working_dir=folder)

        def report(child: TaskRun, state: State, outputs: dict[str, Any]) -> None:
            event = ev.TaskRunResult(child.id, 1, state, outputs, worker_id=WORKER_ID, task_id=child.task_id,
                                     parent_task_run_id=child.parent_task_run_id, value=child.value)
            self.leases.report(ref.execution_id, event)

        reported: list[str] = []

        def report_and_remember(child: TaskRun, state: State, outputs: dict[str, Any]) -> None:
            report(child, state, outputs)
            if state.is_terminated:
                reported.append(child.id)

        outcome = run_working_directory(execution, run, task, self.env.registry, make_context,
                                        report_and_remember, self.env.clock)
        if not getattr(self.env.dispatcher, "delivers_in_order", False):
            self._await_recorded(ref.execution_id, reported)
        return outcome

    def _await_recorded(self, execution_id: str, task_run_ids: list[str], timeout: float = 60.0) -> None:
        """Waits until the executor recorded these children as ended.

        Executor threads may take messages out of order; the WorkingDirectory's own result must
        not be applied before its children's, or the execution could end without them.
        """
        deadline = time.monotonic() + timeout
        while task_run_ids and time.monotonic() < deadline:
            execution = self.env.executions.get(execution_id)
            if execution is None:
                return
            ended = {r.id for r in execution.task_run_list if r.state.current.is_terminated}
            if all(task_run_id in ended for task_run_id in task_run_ids):
                return
            time.sleep(0.01)

    def run_link(self, ref: TaskRunRef, carried: Mapping[str, Any] | None = None) -> dict[str, Any] | bool:
        """Runs one attempt as a link of a Celery chain (or alone: ``carried`` None).

        ``carried`` is what the previous link returned: outputs of earlier links the executor may
        not have recorded yet (engine/services/links.py). Returns what the next link needs, or
        False when the chain must stop: the attempt did not end SUCCESS, it was not run here (a
        removed link, a killed execution, another worker holds it) and did not already end
        SUCCESS. A redelivered link whose attempt already ended SUCCESS passes its recorded
        outputs along, so the chain goes on.
        """
        self._link.carried, self._link.outcome = carried_runs(carried), None
        try:
            self.run_task_run(ref)
            outcome, known = self._link.outcome, self._link.carried
        finally:
            self._link.carried, self._link.outcome = {}, None
        if outcome is not None:
            return carry(known, ref.task_run_id, outcome.outputs) if outcome.state == State.SUCCESS else False
        execution = self.env.executions.get(ref.execution_id)
        run = _find(execution, ref.task_run_id) if execution is not None else None
        if run is None or len(run.attempts) < ref.attempt:
            return False
        if run.attempts[ref.attempt - 1].state.current != State.SUCCESS:
            return False
        _, known = overlay(execution, carried_runs(carried), self.env.clock())  # type: ignore[arg-type]
        return carry(known, run.id, run.outputs)

    def _overlay_link(self, execution: Execution) -> Execution:
        """The execution with the outputs this chain link carries (pruned at its claim) shown."""
        carried = getattr(self._link, "carried", None)
        if not carried:
            return execution
        return overlay(execution, carried, self.env.clock())[0]

    def _reads_other_runs(self, flow: Any, task: Any) -> bool:
        """Whether the task may need task runs other than its own and its ancestors: its templates
        name ``outputs``, ``tasks``, ``vars`` or ``render`` (which renders text from variables), or
        it is a WorkingDirectory. A textual test, so a false "yes" costs a full load and a "no" is
        safe. (What a chain link carries is overlaid only where it can be read: a full load.)"""
        if task.type == WORKING_DIRECTORY:
            return True
        key = (flow.namespace, flow.id, flow.revision, task.id)
        reads = self._reads_cache.get(key)
        if reads is None:
            text = json.dumps(task.model_dump(mode="json", exclude_none=True), default=str)
            reads = any(name in text for name in _READS_OTHER_RUNS)
            self._reads_cache[key] = reads
        return reads

    def kill(self, task_run_ids: Iterable[str]) -> None:
        """Stops task runs running in this process (their tasks see ``ctx.cancel_event``)."""
        with self._lock:
            for task_run_id in task_run_ids:
                event = self._running.get(task_run_id)
                if event is not None:
                    event.set()

    def _is_due(self, run: TaskRun, attempt: int) -> bool:
        if run.state.current.is_terminated or len(run.attempts) < attempt:
            return False
        return not run.attempts[attempt - 1].state.current.is_terminated

    def _report(self, ref: TaskRunRef, state: State, outputs: dict[str, Any],
                lease_seconds: float | None = None, started_at: datetime | None = None,
                logs: Sequence[StoredLog] = ()) -> None:
        """Terminal results go through the outbox (engine/services/leases.py): never lost. ``logs``:
        the attempt's lines not written yet, written with the result."""
        event = ev.TaskRunResult(ref.task_run_id, ref.attempt, state, outputs, worker_id=WORKER_ID,
                                 lease_seconds=lease_seconds,
                                 started_at=started_at.isoformat() if started_at is not None else None)
        self.leases.report(ref.execution_id, event, logs=logs)

    def _context(self, execution: Execution, flow: Any, run: TaskRun, task: Any, ref: TaskRunRef,
                 cancel: threading.Event, logs: AttemptLogs, working_dir: Path | None = None) -> RunContext:
        execution = self._overlay_link(execution)
        identity = RunIdentity(namespace=execution.namespace, flow_id=execution.flow_id,
                               execution_id=execution.id, task_id=run.task_id, task_run_id=run.id,
                               value=run.value, attempt=ref.attempt, flow_revision=execution.flow_revision)
        variables = build_variables(flow, execution, run, task, extra=self.executions.extra_variables())
        return RunContext(identity=identity, variables=variables, renderer=self._renderer,
                          storage=self.env.storage, log_sink=partial(_store_log, logs), clock=self.env.clock,
                          kv=self.env.kv.as_store(self.env.clock), secrets=self.env.secrets,
                          log_level=getattr(task, "log_level", None), log_reader=self,
                          executions=self, registry=self.env.registry, cancel_event=cancel,
                          encryption_key=self.env.encryption_key, working_dir=working_dir,
                          triggers=self.triggers)

    def _renderer(self, io: Any) -> BoundRenderer:
        # One Renderer per process (its environment and compiled templates), bound per task run.
        return self._shared_renderer.bound(io)

    # -- LogReader and ExecutionControl for the tasks that need them -------------------------

    def find(self, namespace: str, flow_id: str, execution_id: str, *, task_id: str | None,
             min_level: LogLevel) -> Iterable[Mapping[str, Any]]:
        return [entry.to_json() for entry in self.env.logs.for_execution(
            execution_id, min_level=min_level, task_id=task_id)]

    def resume(self, namespace: str, flow_id: str, execution_id: str,
               inputs: Mapping[str, Any] | None) -> None:
        self.executions.resume(execution_id, inputs)

    def _register(self, task_run_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._running[task_run_id] = event
        return event

    def _unregister(self, task_run_id: str) -> None:
        with self._lock:
            self._running.pop(task_run_id, None)


def _store_log(logs: AttemptLogs, entry: LogEntry) -> None:
    logs.append(StoredLog(
        namespace=entry.namespace, flow_id=entry.flow_id, execution_id=entry.execution_id,
        task_run_id=entry.task_run_id, task_id=entry.task_id, attempt_number=entry.attempt_number,
        level=entry.level, message=entry.message, timestamp=entry.timestamp))


def _find(execution: Execution, task_run_id: str) -> TaskRun | None:
    for run in execution.task_run_list:
        if run.id == task_run_id:
            return run
    return None
