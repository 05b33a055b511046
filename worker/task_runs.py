"""One attempt of a task run, run on the worker and reported to the executor.

A batch (``worker.batches``) claims attempts and hands each to :meth:`TaskRunService.run_attempt`,
which builds the task's ``RunContext`` (its variables, with the outputs a chain link carries
overlaid), starts its heartbeat (the RUNNING report once it has run
``worker.running_report_after``, then the lease renewals), runs the task, or a WorkingDirectory's
whole subtree, and gives the result to the batch's ``ResultBuffer``.

A task that outlives its timeout or kill (``engine.tasks.runner``: stopped, and still running)
keeps its slot busy: ``run_attempt`` returns once its thread ended, its result written first.

Every message names an attempt; a redelivered message whose attempt already ended is not due
(``is_due``), so a task run attempt is recorded once even when the broker delivers twice.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.log_config import bind_ids
from engine.model.execution import Execution, TaskRun
from engine.model.flow import Flow
from engine.model.task import LogLevel, TaskOptions
from engine.persistence.logs import LogEntry as StoredLog
from engine.persistence.task_metrics import MetricEntry
from engine.plugins.core.flow_wait import WorkingDirectory
from engine.services.executions import ExecutionService
from engine.services.flow_triggers import TriggerSwitch
from engine.services.flows import FlowCatalog
from engine.services.runtime import Env
from engine.state import State
from engine.tasks.context import RunContext, RunIdentity
from engine.tasks.expression_io import RunContextIO
from engine.tasks.logger import LogEntry
from engine.tasks.outcome import Metric, TaskOutcome
from engine.tasks.runner import has_runaways, wait_for_runaways
from engine.tasks.script_runner import ScriptDefaults
from engine.tasks.task_cache import run_cached
from engine.templating.io import SwitchedIO
from engine.templating.renderer import BoundRenderer
from engine.variables import build_variables
from worker.attempt_logs import AttemptLogs
from worker.batch_results import HeldResults, ResultBuffer
from worker.carried_outputs import CarriedRuns, overlay
from worker.lease_keeper import LeaseKeeper
from worker.working_directory import run_working_directory

log = logging.getLogger("podium.worker")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
WORKING_DIRECTORY = "io.kestra.plugin.core.flow.WorkingDirectory"
# Variables built from task runs other than the task's own lineage, and the function that renders
# text taken from variables (which may name them).
_READS_OTHER_RUNS = ("outputs", "tasks", "vars", "render")


class TaskRunService:
    """Runs the attempts this process's batches claimed; also the ``log.Fetch`` reader and the
    ``execution.Resume`` control of the tasks it runs."""

    def __init__(self, env: Env, catalog: FlowCatalog, executions: ExecutionService) -> None:
        self.env = env
        self.catalog = catalog
        self.executions = executions
        self.triggers = TriggerSwitch(env, catalog)
        self.leases = LeaseKeeper(env, WORKER_ID)
        self.held = HeldResults()  # what the running batches have not written yet
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._reads_cache: dict[tuple[str, str, int | None, str], bool] = {}
        self._shared_renderer = env.new_renderer(SwitchedIO())
        scripts = env.settings.scripts
        self._script_defaults = ScriptDefaults(scripts.default_runner, scripts.docker_host,
                                               scripts.dependency_cache_dir, scripts.docker_volumes_enabled)

    def run_attempt(self, execution: Execution, ref: TaskRunRef, results: ResultBuffer,
                    carried: CarriedRuns) -> TaskOutcome:
        """Runs one claimed attempt of ``execution`` (its lineage, as the claim read it) with the
        outputs of ``carried`` overlaid; its result goes to ``results``."""
        with bind_ids(execution_id=ref.execution_id, task_run_id=ref.task_run_id, task_id=ref.task_id,
                      flow=ref.flow, attempt=ref.attempt):
            return self._run_attempt(execution, ref, results, carried)

    def _run_attempt(self, execution: Execution, ref: TaskRunRef, results: ResultBuffer,
                     carried: CarriedRuns) -> TaskOutcome:
        run = find_run(execution, ref.task_run_id)
        assert run is not None  # claimed, so read with the lineage
        flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
        task = task_of(flow, run.task_id)
        if self.reads_other_runs(flow, task):
            execution = self.env.executions.get(ref.execution_id) or execution
        spec = self.env.registry.resolve(task.type)
        cancel = self._register(ref.task_run_id)
        logs = AttemptLogs(self.env.logs, live=spec.type == WORKING_DIRECTORY)

        def announce() -> None:
            logs.go_live()  # still running: its logs are written as they come from now on
            results.flush()  # the batch's earlier results reach the executor before this report
            self.leases.report(ref.execution_id, result_event(ref, State.RUNNING, {}, started_at=started_at,
                                                              lease_seconds=self.leases.seconds))

        # The heartbeat sends the RUNNING report only if the attempt still runs after
        # worker.running_report_after: a quick one is one executor event, not two.
        started_at = self.env.clock()
        heartbeat = self.leases.start_heartbeat(ref, cancel, announce, self.env.settings.worker.running_report_after)
        picked_up, started = time.time(), time.perf_counter()
        log.info("task run started", extra={"task_type": ref.task_type})
        try:
            if spec.type == WORKING_DIRECTORY:
                assert isinstance(task, WorkingDirectory)  # its spec parses it so
                outcome = self._run_working_directory(execution, flow, run, task, ref, cancel, logs, carried)
            else:
                with self._context(execution, flow, run, task, ref, cancel, logs, carried) as ctx:
                    outcome = run_cached(spec, task, ctx)
        except BaseException:
            with contextlib.suppress(Exception):  # no result will carry them: write them now
                logs.go_live()
            raise
        finally:
            heartbeat.stop()
            self._unregister(ref.task_run_id)
        ended_at = self.env.clock()
        results.add(result_event(ref, outcome.state, outcome.outputs, started_at=started_at, ended_at=ended_at),
                    logs.take(), ended_at)
        self.env.metrics.attempt_ran(picked_up, time.perf_counter() - started)
        log.info("task run ended", extra={"state": outcome.state.value})
        if has_runaways():
            # Its thread outlived the stop (engine/tasks/threads.py): the result goes now, and
            # this slot takes no other attempt until the thread ends.
            results.flush()
            wait_for_runaways(f"task run {ref.task_run_id} (attempt {ref.attempt})")
        return outcome

    def _run_working_directory(self, execution: Execution, flow: Flow, run: TaskRun, task: WorkingDirectory,
                               ref: TaskRunRef, cancel: threading.Event, logs: AttemptLogs,
                               carried: CarriedRuns) -> TaskOutcome:
        def make_context(snapshot: Execution, child: TaskRun, child_task: TaskOptions, folder: Path) -> RunContext:
            child_ref = TaskRunRef(ref.execution_id, child.id, 1, child.task_id, child_task.type, ref.flow)
            return self._context(snapshot, flow, child, child_task, child_ref, cancel, logs, carried,
                                 working_dir=folder)

        reported: list[str] = []

        def report(child: TaskRun, state: State, outputs: dict[str, Any]) -> None:
            event = ev.TaskRunResult(child.id, 1, state, outputs, worker_id=WORKER_ID, task_id=child.task_id,
                                     parent_task_run_id=child.parent_task_run_id, value=child.value)
            self.leases.report(ref.execution_id, event)
            if state.is_terminated:
                reported.append(child.id)

        outcome = run_working_directory(execution, run, task, self.env.registry, make_context, report,
                                        self.env.clock)
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

    def reads_other_runs(self, flow: Flow, task: TaskOptions) -> bool:
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

    def _context(self, execution: Execution, flow: Flow, run: TaskRun, task: TaskOptions, ref: TaskRunRef,
                 cancel: threading.Event, logs: AttemptLogs, carried: CarriedRuns,
                 working_dir: Path | None = None) -> RunContext:
        if carried:
            execution = overlay(execution, carried, self.env.clock())[0]
        identity = RunIdentity(namespace=execution.namespace, flow_id=execution.flow_id,
                               execution_id=execution.id, task_id=run.task_id, task_run_id=run.id,
                               value=run.value, attempt=ref.attempt, flow_revision=execution.flow_revision)
        variables = build_variables(flow, execution, run, task, extra=self.executions.extra_variables())
        return RunContext(identity=identity, variables=variables, renderer=self._renderer,
                          storage=self.env.storage, log_sink=partial(_store_log, logs), clock=self.env.clock,
                          kv=self.env.kv.as_store(self.env.clock), secrets=self.env.secrets,
                          log_level=task.log_level, log_reader=self,
                          executions=self, registry=self.env.registry, cancel_event=cancel,
                          encryption_key=self.env.encryption_key, working_dir=working_dir,
                          triggers=self.triggers, files=self.env.files, scripts=self._script_defaults,
                          metrics_sink=partial(_hold_metrics, logs, self.env.clock))

    def _renderer(self, io: RunContextIO) -> BoundRenderer:
        # One Renderer per process (its environment and compiled templates), bound per task run.
        return self._shared_renderer.bound(io)

    # -- LogReader and ExecutionControl for the tasks that need them -------------------------

    def find(self, namespace: str, flow_id: str, execution_id: str, *, task_id: str | None,
             min_level: LogLevel) -> Iterable[Mapping[str, Any]]:
        self.held.flush(execution_id)  # the lines batches of this execution hold are read too
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


def is_due(run: TaskRun, attempt: int) -> bool:
    """Whether ``attempt`` of ``run`` is still to run (a redelivered message's may have ended)."""
    if run.state.current.is_terminated or len(run.attempts) < attempt:
        return False
    return not run.attempts[attempt - 1].state.current.is_terminated


def result_event(ref: TaskRunRef, state: State, outputs: dict[str, Any], lease_seconds: float | None = None,
                 started_at: datetime | None = None, ended_at: datetime | None = None) -> ev.TaskRunResult:
    """The executor event that reports ``state`` for the attempt of ``ref``, dated by this worker."""
    return ev.TaskRunResult(ref.task_run_id, ref.attempt, state, outputs, worker_id=WORKER_ID,
                            lease_seconds=lease_seconds,
                            started_at=started_at.isoformat() if started_at is not None else None,
                            ended_at=ended_at.isoformat() if ended_at is not None else None)


def find_run(execution: Execution, task_run_id: str) -> TaskRun | None:
    for run in execution.task_run_list:
        if run.id == task_run_id:
            return run
    return None


def task_of(flow: Flow, task_id: str) -> TaskOptions:
    """The task of the flow revision a task run was created from (it cannot have left it)."""
    task = flow.find_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not in revision {flow.revision} of {flow.namespace}.{flow.id}")
    return task


def _store_log(logs: AttemptLogs, entry: LogEntry) -> None:
    logs.append(StoredLog(
        namespace=entry.namespace, flow_id=entry.flow_id, execution_id=entry.execution_id,
        task_run_id=entry.task_run_id, task_id=entry.task_id, attempt_number=entry.attempt_number,
        level=entry.level, message=entry.message, timestamp=entry.timestamp))


def _hold_metrics(logs: AttemptLogs, clock: Callable[[], datetime], identity: RunIdentity,
                  metrics: tuple[Metric, ...]) -> None:
    """The attempt's metrics go with its log lines: written with its result, in the same commit."""
    now = clock()
    for metric in metrics:
        logs.append(MetricEntry(
            namespace=identity.namespace, flow_id=identity.flow_id, execution_id=identity.execution_id,
            task_run_id=identity.task_run_id, task_id=identity.task_id, attempt=identity.attempt,
            name=metric.name, type=metric.type, value=metric.value, tags=metric.tags, timestamp=now))
