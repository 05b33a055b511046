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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import AbstractSet, Any

from engine.dispatch import TaskRunRef
from engine.executor import events as ev
from engine.log_config import bind_ids
from engine.metrics import message_sent_at
from engine.model.execution import Execution, TaskRun
from engine.model.task import LogLevel
from engine.persistence.logs import LogEntry as StoredLog
from engine.services.attempt_logs import AttemptLogs
from engine.services.batches import SPREAD_AFTER_SECONDS, Announcement, Batch, ResultBuffer
from engine.services.flow_triggers import TriggerSwitch
from engine.services.flows import FlowCatalog
from engine.services.leases import LeaseKeeper
from engine.services.links import carried_runs, overlay
from engine.services.runtime import Env
from engine.services.working_directory import run_working_directory
from engine.state import State
from engine.tasks.context import RunContext, RunIdentity
from engine.tasks.logger import LogEntry
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import run_task
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
#: Whether an attempt was asked to stop before it started (the worker's kill switch).
Killed = Callable[[TaskRunRef], bool]


class TaskRunService:
    def __init__(self, env: Env, catalog: FlowCatalog, executions: Any) -> None:
        self.env = env
        self.catalog = catalog
        self.executions = executions
        self.triggers = TriggerSwitch(env, catalog)
        self._running: dict[str, threading.Event] = {}
        self._held: dict[str, set[ResultBuffer]] = {}  # the result buffers of running batches, by execution
        self._lock = threading.Lock()
        self.leases = LeaseKeeper(env, WORKER_ID)
        self._link = threading.local()  # what the chain links this thread runs carry (run_links)
        self._reads_cache: dict[tuple[str, str, int, str], bool] = {}
        self._shared_renderer = Renderer(SwitchedIO(), default_timezone=env.settings.timezone)

    # -- entry points -------------------------------------------------------------------------
    def run_chunk(self, refs: Sequence[TaskRunRef], is_killed: Killed | None = None,
                  join: TaskRunRef | None = None) -> None:
        """A fan-out's chunk (engine/services/batches.py): every attempt runs whatever the
        others' outcome; those left when the budget is spent or when the chunk outlasts its
        patience (batches.outlasted) go back to the queue, spread over more chunks (so the
        siblings of tasks that are not quick reach idle workers).
        ``join``: the fan-out's join, run here next if this chunk's results are its last
        successes (engine/executor/joins.py)."""
        def give_back(rest: list[TaskRunRef]) -> None:
            self.leases.release(rest)
            self.env.dispatcher.dispatch_task_runs(rest, spread=True, join=join)

        killed = is_killed or _never
        with self._batch(refs, give_back, patience=SPREAD_AFTER_SECONDS, join=join) as (batch, claimed):
            while (ref := batch.take()) is not None:
                if ref.task_run_id in claimed.ids and not killed(ref):
                    claimed.run(ref)
        if join is not None and claimed.results.joined is not None:
            announcement = Announcement(self.leases, join.execution_id, claimed.results.joined, SPREAD_AFTER_SECONDS)
            written = False
            try:
                written = self._run_join(join, killed, claimed.execution)
            finally:
                announcement.settle(superseded=written)

    def _run_join(self, join: TaskRunRef, killed: Killed, lineage: Execution | None) -> bool:
        """Runs the join this worker claimed with the fan-out's last results, with the outputs of
        the children the executor has not applied yet overlaid (as a chain link's carried ones)
        if it reads them; True if its result was written."""
        flow = self.catalog.get(lineage.namespace, lineage.flow_id, lineage.flow_revision) if lineage else None
        if flow is not None and self._reads_other_runs(flow, flow.find_task(join.task_id)):
            self._link.carried = self.leases.waiting_outputs(join.execution_id)
        # The chunk's claim read the join's lineage too, and its last write claimed the join.
        known = lineage if lineage is not None and _find(lineage, join.task_run_id) is not None else None
        with self._batch([join], self.leases.release, held={join.task_run_id}, lineage=known) as (batch, claimed):
            if (ref := batch.take()) is not None and ref.task_run_id in claimed.ids and not killed(ref):
                claimed.run(ref)
        return claimed.results.written

    def run_links(self, refs: Sequence[TaskRunRef], carried: Mapping[str, Any] | None = None,
                  is_killed: Killed | None = None) -> tuple[dict[str, Any] | bool, int]:
        """A chain link (``refs[0]``) and the links after it in its Celery chain, run here while
        the budget lasts: (what the next link needs, or False when the chain must stop; how many
        of ``refs`` were taken). ``carried`` is what the previous link returned: outputs of
        earlier links the executor may not have recorded yet (engine/services/links.py).

        A link stops the chain when its attempt did not end SUCCESS, or when it was not run here
        (a removed link, a killed execution, another worker holds it) and did not already end
        SUCCESS: a redelivered link whose attempt ended SUCCESS passes its recorded outputs along."""
        killed = is_killed or _never
        self._link.carried = carried_runs(carried)
        with self._batch(refs, self.leases.release) as (batch, claimed):
            while (ref := batch.take()) is not None:
                outcome = claimed.run(ref) if ref.task_run_id in claimed.ids and not killed(ref) else None
                if outcome is not None:
                    if outcome.state != State.SUCCESS:
                        return False, batch.taken
                    self._link.carried = {**self._link.carried, ref.task_run_id: dict(outcome.outputs)}
                    message_sent_at.set(time.time())  # a Celery chain would send the next link now
                elif killed(ref) or not self._carry_recorded(ref):
                    return False, batch.taken
            return {"runs": self._link.carried}, batch.taken

    @contextlib.contextmanager
    def _batch(self, refs: Sequence[TaskRunRef], give_back: Callable[[list[TaskRunRef]], None],
               patience: float | None = None, join: TaskRunRef | None = None,
               held: AbstractSet[str] = frozenset(), lineage: Execution | None = None
               ) -> Iterator[tuple[Batch, _Claimed]]:
        """Claims ``refs`` (but ``held``, claimed already) and runs the body; then writes the
        results and gives back (releases) the claimed attempts the body did not take.
        ``lineage``: ``refs`` are all held and their lineage was read already: no transaction."""
        budget = self.env.settings.worker.batch_seconds
        results = ResultBuffer(self.leases, refs[0].execution_id, budget, join)
        if lineage is not None:
            claimed = _Claimed(self, lineage, {ref.task_run_id for ref in refs} & held, results)
        else:
            claimed = self._claim(refs, results, held, also_read=[join.task_run_id] if join is not None else [])

        def give_back_claimed(rest: list[TaskRunRef]) -> None:
            if kept := [ref for ref in rest if ref.task_run_id in claimed.ids]:
                give_back(kept)

        batch = Batch(refs, budget, give_back_claimed, spent=results.flush, patience=patience)
        with self._lock:  # log.Fetch writes what batches hold first (find)
            self._held.setdefault(refs[0].execution_id, set()).add(results)
        try:
            yield batch, claimed
        finally:
            self._link.carried = {}
            with self._lock:
                self._held[refs[0].execution_id].discard(results)
                if not self._held[refs[0].execution_id]:
                    del self._held[refs[0].execution_id]
            batch.close()
            results.flush()

    def _claim(self, refs: Sequence[TaskRunRef], results: ResultBuffer, held: AbstractSet[str] = frozenset(),
               also_read: Sequence[str] = ()) -> _Claimed:
        """Reads the attempts' lineage (and that of ``also_read``: a join this batch may run
        next) and claims those due, in one transaction. If the execution is being killed, none
        is claimed and each is reported KILLED (chain links after the first too: the executor
        drops those results with the links, engine/executor/chains.py)."""
        execution_id = refs[0].execution_id
        with self.env.db.transaction() as tx:
            execution = self.env.executions.get_lineage(execution_id, [ref.task_run_id for ref in refs] + list(also_read),
                                                        session=tx)
            if execution is None:
                return _Claimed(self, None, set(), results)  # deleted meanwhile: nothing to report to
            runs = {run.id: run for run in execution.task_run_list}
            due = [ref for ref in refs if ref.task_run_id in runs and self._is_due(runs[ref.task_run_id], ref.attempt)]
            killed = execution.state.current in (State.KILLING, State.KILLED)
            taken = {ref.task_run_id for ref in due} & held
            ids = set() if killed else taken | self.leases.claim_many(
                [ref for ref in due if ref.task_run_id not in taken], session=tx)
            carried = getattr(self._link, "carried", None)
            if carried and not killed:
                # Links the database shows ended need not travel further down the chain.
                states = self.env.executions.task_run_states(carried, session=tx)
                self._link.carried = {key: value for key, value in carried.items()
                                      if key not in states or not states[key].is_terminated}
        if killed:
            for ref in due:  # killed before this message was delivered
                results.add(self._result(ref, State.KILLED, {}), (), self.env.clock())
        return _Claimed(self, execution, ids, results)

    def _carry_recorded(self, ref: TaskRunRef) -> bool:
        """A link not run here whose attempt already ended SUCCESS (a redelivered message): its
        recorded outputs go on down the chain; False if it did not succeed."""
        execution = self.env.executions.get(ref.execution_id)
        run = _find(execution, ref.task_run_id) if execution is not None else None
        if run is None or len(run.attempts) < ref.attempt or \
                run.attempts[ref.attempt - 1].state.current != State.SUCCESS:
            return False
        _, known = overlay(execution, self._link.carried, self.env.clock())  # type: ignore[arg-type]
        self._link.carried = {**known, run.id: dict(run.outputs)}
        return True

    def run_attempt(self, execution: Execution, ref: TaskRunRef, results: ResultBuffer) -> TaskOutcome:
        """Runs one claimed attempt; its result goes to ``results``."""
        with bind_ids(execution_id=ref.execution_id, task_run_id=ref.task_run_id, task_id=ref.task_id,
                      flow=ref.flow, attempt=ref.attempt):
            return self._run_attempt(execution, ref, results)

    def _run_attempt(self, execution: Execution, ref: TaskRunRef, results: ResultBuffer) -> TaskOutcome:
        run = _find(execution, ref.task_run_id)
        assert run is not None  # claimed, so read with the lineage
        flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
        task = flow.find_task(run.task_id)
        if self._reads_other_runs(flow, task):
            execution = self.env.executions.get(ref.execution_id) or execution
        spec = self.env.registry.resolve(task.type)
        cancel = self._register(ref.task_run_id)
        logs = AttemptLogs(self.env.logs, live=spec.type == WORKING_DIRECTORY)

        def announce() -> None:
            logs.go_live()  # still running: its logs are written as they come from now on
            results.flush()  # the batch's earlier results reach the executor before this report
            self.leases.report(ref.execution_id, self._result(ref, State.RUNNING, {},
                                                              lease_seconds=self.leases.seconds))

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
        results.add(self._result(ref, outcome.state, outcome.outputs, started_at=started_at), logs.take(),
                    self.env.clock())
        self.env.metrics.attempt_ran(picked_up, time.perf_counter() - started)
        log.info("task run ended", extra={"state": outcome.state.value})
        return outcome

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

    @staticmethod
    def _result(ref: TaskRunRef, state: State, outputs: dict[str, Any], lease_seconds: float | None = None,
                started_at: datetime | None = None) -> ev.TaskRunResult:
        return ev.TaskRunResult(ref.task_run_id, ref.attempt, state, outputs, worker_id=WORKER_ID,
                                lease_seconds=lease_seconds,
                                started_at=started_at.isoformat() if started_at is not None else None)

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
        with self._lock:  # the logs batches of this execution hold are read too (tasks run in threads)
            held = list(self._held.get(execution_id, ()))
        for results in held:
            results.flush()
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


class _Claimed:
    """What a batch's claim found: the execution (its lineage), the task run ids claimed."""

    def __init__(self, service: TaskRunService, execution: Execution | None, ids: set[str],
                 results: ResultBuffer) -> None:
        self._service, self.execution, self.ids, self.results = service, execution, ids, results

    def run(self, ref: TaskRunRef) -> TaskOutcome:
        assert self.execution is not None  # nothing is claimed without it
        return self._service.run_attempt(self.execution, ref, self.results)


def _never(ref: TaskRunRef) -> bool:
    return False


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
