"""L3: creating executions, the operations on them (kill, resume, restart, replay...) and their end.

Creating an execution applies its first step (``engine.executor.advance_all`` on Start) in the
transaction that inserts it; every later step is the executor process's
(executor/event_handler.py). Both save what changed together with the timers and logs
the step asked for, and only after the commit carry out the commands that leave the process
(Celery dispatch, child executions, kills: ``after_step``).

``ExecutionService`` builds the parts that carry out commands (commands, pending commands, Flow
triggers) and hands itself to them as their ``ExecutionShell`` (engine/services/execution_shell.py):
they call it back to start an execution or end one without importing this module.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter

from engine import executor
from engine.errors import Conflict, NotFound, PodiumError
from engine.executor import commands as cmd
from engine.executor import events as ev
from engine.executor.step_state import Step
from engine.inputs import InputError, resolve_inputs
from engine.metrics import dispatched_task_run_ids
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import CheckBehavior, Flow
from engine.model.inputs import Input
from engine.persistence.executions import ExecutionExists
from engine.services import checks
from engine.services.commands import CommandRunner
from engine.services.flow_triggers import FlowTriggerService
from engine.services.flows import FlowCatalog
from engine.services.messages import send_event
from engine.services.pending_commands import PendingCommands, waiting_parent
from engine.services.runtime import Env
from engine.services.slots import FlowSlots
from engine.state import State
from engine.storage.input_files import FlowFiles, HostFiles
from engine.storage.scopes import ExecutionRef, ReaderScope
from engine.templating import ExpressionError
from engine.variables import build_variables, instance_variables

log = logging.getLogger("podium.executor")


class InputsInvalid(PodiumError, ValueError):
    pass


class ExecutionService:
    def __init__(self, env: Env, catalog: FlowCatalog) -> None:
        self.env = env
        self.catalog = catalog
        self.slots = FlowSlots(env, catalog)
        self.flow_triggers = FlowTriggerService(env, catalog, self)
        self.pending = PendingCommands(env, catalog, self.flow_triggers, self)
        self.commands = CommandRunner(env, self.pending, self)

    # -- creating -----------------------------------------------------------------------------

    def start_execution(self, namespace: str, flow_id: str, *, inputs: Mapping[str, Any] | None = None,
                        labels: Mapping[str, Any] | None = None, revision: int | None = None,
                        trigger: ExecutionTrigger | None = None, parent: Execution | None = None,
                        parent_task_run_id: str | None = None, validate_inputs: bool = True,
                        execution_id: str | None = None, local_files: bool = False) -> Execution:
        """Creates an execution of the flow (inputs validated) and hands it to the executor.

        ``local_files``: the inputs were typed by the person at this machine (the CLI), whose FILE
        values may be paths of this host, uploaded into the execution's storage. Every other
        caller passes flow data, whose FILE values must be URIs the execution may read
        (engine/storage/input_files.py).

        ``validate_inputs=False`` (Flow triggers): inputs that do not validate are kept as given,
        as Kestra does not validate the inputs of trigger-created executions. ``execution_id``:
        the id to create it with, derived by a command that may run twice (a subflow's child, a
        Flow trigger's fire): if it exists already, that execution is returned as it is.
        """
        flow = self.catalog.get(namespace, flow_id, revision)
        if flow.disabled:
            raise Conflict(f"flow {namespace}.{flow_id} is disabled; set `disabled: false` to run it")
        now = self.env.clock()
        execution = executor.create_execution(flow, {}, dict(labels or {}), now, trigger=trigger,
                                              execution_id=execution_id)
        try:
            resolved = self._inputs(flow, execution, inputs or {}, local_files=local_files)
        except InputsInvalid:
            if validate_inputs:
                raise
            resolved = dict(inputs or {})
        execution = execution.model_copy(update={"inputs": resolved})
        if parent is not None:
            execution = execution.model_copy(update={"parent_id": parent.id})
        # As Kestra: checks guard the executions people start, not those of triggers or subflows.
        failed = self._failed_checks(flow, execution) if flow.checks and trigger is None and parent is None else []
        if checks.behavior_of(failed) == CheckBehavior.FAIL_EXECUTION:
            return self._create_failed(flow, execution, failed)
        started = time.perf_counter()
        # A subflow's first step stays the executor's: its end must not reach the parent before
        # the SubflowStarted its parent's step sends after this call.
        try:
            created, first = self._create_admitted(flow, execution, first_step=parent is None)
        except ExecutionExists as error:
            return self._created_before(execution_id, error)
        self._log_checks(created, failed)
        if first is not None:
            step, later = first
            self.after_step(created, step, flow, later, "Start", started)
            return step.execution
        if created.state.current == State.CREATED:
            self.send(created.id, ev.Start())
        return created

    def _failed_checks(self, flow: Flow, execution: Execution) -> list[checks.FailedCheck]:
        """The flow's failed checks on these inputs; raises ExecutionBlocked if one blocks."""
        variables = build_variables(flow, execution, extra=self.extra_variables())
        with self.env.reading_for(execution):
            failed = checks.failed_checks(flow, variables, self.env.renderer(flow.namespace).render_typed)
        if checks.behavior_of(failed) == CheckBehavior.BLOCK_EXECUTION:
            raise checks.blocked(flow, failed)
        return failed

    def _create_failed(self, flow: Flow, execution: Execution, failed: list[checks.FailedCheck]) -> Execution:
        """FAIL_EXECUTION: the execution is created FAILED and none of its tasks run; its
        ``afterExecution`` tasks do, as after any end (the step of a Wake starts them)."""
        started = time.perf_counter()
        execution = execution.with_state(State.FAILED, self.env.clock())
        step = self._first_step(flow, execution, ev.Wake())
        with self.env.db.transaction() as session:
            if step is None:
                self.env.executions.create(execution, session=session)
                later: list[cmd.Command] = []
            else:
                self.env.executions.create(step.execution, session=session,
                                           lease_until=self.commands.dispatch_deadlines(step))
                later = self.commands.in_transaction(session, step, deadlines_written=True)
        self.commands.log(execution, None, "WARN", checks.FAILED_MESSAGE)
        self._log_checks(execution, failed)
        if step is not None:
            self.after_step(execution, step, flow, later, "Wake", started)
            execution = step.execution
        self.on_ended(execution)
        return execution

    def _log_checks(self, execution: Execution, failed: list[checks.FailedCheck]) -> None:
        for check in failed:
            self.commands.log(execution, None, check.level, check.message)

    def _inputs(self, flow: Flow, execution: Execution, raw: Mapping[str, Any], *,
                local_files: bool = False) -> dict[str, Any]:
        store_file = self.file_values(execution, local_files=local_files)
        renderer = self.env.renderer(flow.namespace)
        try:
            with self.env.reading_for(execution):
                return resolve_inputs(flow, raw, store_file=store_file, render=renderer.render_typed)
        except InputError as err:
            raise InputsInvalid(str(err)) from None
        except OSError as err:
            raise InputsInvalid(f"cannot read an input file: {err}") from None

    def file_values(self, execution: Execution, *, local_files: bool = False) -> FlowFiles | HostFiles:
        """What the FILE inputs of ``execution`` keep of their values (``engine.inputs.StoreFile``):
        uploads of host files for the CLI's user (``local_files``), checked URIs for flow data."""
        from_flow = FlowFiles(self.env.files, ReaderScope.of(execution))
        if not local_files:
            return from_flow
        target = ExecutionRef(execution.namespace, execution.flow_id, execution.id)
        return HostFiles(self.env.storage, target, from_flow)

    def _create_admitted(self, flow: Flow, execution: Execution, *, first_step: bool
                         ) -> tuple[Execution, tuple[Step, list[cmd.Command]] | None]:
        """Applies the concurrency limit and saves the execution in one transaction, so two
        executions created at once cannot both take the last slot. With ``first_step``, an
        admitted execution is saved with its first step applied: (the execution as admitted,
        (the step, its commands to run after the commit) or None)."""
        with self.env.db.transaction() as session:
            execution = self.slots.admit(flow, execution, session)
            step = self._first_step(flow, execution) if first_step and execution.state.current == State.CREATED \
                else None
            later: list[cmd.Command] = []
            if step is None:
                self.env.executions.create(execution, session=session)
            else:  # the dispatched rows are inserted with their claim deadline: no UPDATE after
                self.env.executions.create(step.execution, session=session,
                                           lease_until=self.commands.dispatch_deadlines(step))
                later = self.commands.in_transaction(session, step, deadlines_written=True)
            self.slots.enqueue(flow, execution, session)
        return execution, ((step, later) if step is not None else None)

    def _first_step(self, flow: Flow, execution: Execution, event: ev.Event | None = None) -> Step | None:
        """The executor's step for Start, applied by whoever creates the execution: nobody else
        can see it before this transaction commits, so no row lock is needed, and the Start message,
        its executor step and its load are saved (docs/executor.md, "The first step"). None if
        ``advance`` raised: the execution is then created without it and the executor applies Start."""
        try:
            with self.env.reading_for(execution):
                return executor.advance_all(execution, flow, [event or ev.Start()], self.env.clock(),
                                            registry=self.env.registry,
                                            renderer=self.env.renderer(execution.namespace),
                                            extra=self.extra_variables(), chains=self.env.settings.executor.chains)
        except Exception:  # the executor meets the same error and reports it its usual way
            log.warning("the first step of %s failed; the executor takes it", execution.describe(), exc_info=True)
            return None

    # -- after a step's commit ----------------------------------------------------------------

    def after_step(self, before: Execution, step: Step, flow: Flow, later: Sequence[cmd.Command], name: str,
                   started: float) -> None:
        """After the commit of a step: its commands that leave the process, Flow triggers, metrics."""
        self.commands.after_commit(step.execution, flow, later)
        if step.execution.state.current != before.state.current and not step.execution.state.current.is_terminated:
            self.flow_triggers.on_state(step.execution)  # the end is seen by on_ended
        # Metrics after the commit and the dispatch, outside the row lock (docs/operations.md).
        self.env.metrics.executor_step(name, time.perf_counter() - started, before, step.execution,
                                       step.changed_task_run_ids, dispatched_task_run_ids(later), self.env.clock())
        log.debug("executor step", extra={"flow": f"{before.namespace}.{before.flow_id}",
                                          "event_type": name, "state": step.execution.state.current.value})

    def after_commit(self, execution: Execution, flow: Flow, commands: Sequence[cmd.Command]) -> None:
        """Carries out ``commands`` that leave the process (ExecutionShell, for beat's replays)."""
        self.commands.after_commit(execution, flow, commands)

    def extra_variables(self) -> dict[str, Any]:
        settings = self.env.settings
        return {"globals": settings.globals, "envs": self.env.envs,
                "kestra": instance_variables(settings.environment, settings.url)}

    # -- reading ------------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution:
        execution = self.env.executions.get(execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        return execution

    # -- operations ---------------------------------------------------------------------------

    def send(self, execution_id: str, event: ev.Event) -> None:
        send_event(self.env.dispatcher, execution_id, event)

    def kill(self, execution_id: str) -> Execution:
        execution = self.get(execution_id)
        if execution.state.current.is_terminated:
            raise Conflict(f"{execution.describe()} already ended {execution.state.current.value}; "
                           "nothing to kill")
        if execution.state.current == State.QUEUED:
            self.env.queue.remove(execution.id)
        self.pending.send_kept(execution_id, ev.Kill())
        for child in self.env.executions.children(execution_id):
            if not child.state.current.is_terminated:
                self.pending.send_kept(child.id, ev.Kill())
        return execution

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None, *,
               local_files: bool = False) -> Execution:
        """Resumes a paused execution; ``local_files`` as for :meth:`start_execution` (the CLI's
        user, not a Resume task)."""
        execution = self.get(execution_id)
        if execution.state.current != State.PAUSED:
            raise Conflict(f"{execution.describe()} is {execution.state.current.value}, not PAUSED; "
                           "only a paused execution can be resumed")
        resumed = self._on_resume_inputs(execution, inputs or {}, local_files=local_files)
        self.pending.send_kept(execution_id, ev.Resume(resumed))
        return execution

    def _on_resume_inputs(self, execution: Execution, raw: Mapping[str, Any], *,
                          local_files: bool) -> dict[str, Any]:
        """The values of the paused task's ``onResume`` inputs, parsed and checked like flow
        inputs (defaults, types); raises InputsInvalid with Kestra's message."""
        paused = next((r for r in execution.task_run_list if r.state.current == State.PAUSED), None)
        flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
        declared = getattr(flow.find_task(paused.task_id), "on_resume", None) if paused else None
        if not declared:
            return dict(raw)
        specs = TypeAdapter(list[Input]).validate_python(declared)
        return self._inputs(flow.model_copy(update={"inputs": specs}), execution, raw, local_files=local_files)

    def restart(self, execution_id: str) -> Execution:
        with self.env.executions.lock(execution_id) as locked:
            execution = locked.execution
            if not (execution.state.current.is_terminated or execution.state.current == State.PAUSED):
                raise Conflict(f"{execution.describe()} is {execution.state.current.value}; only an "
                               "ended or paused execution can be restarted")
            flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
            restarted = executor.restart(execution, flow, self.env.clock(), registry=self.env.registry)
            locked.save(restarted)
        self.send(execution_id, ev.Wake())
        return restarted

    def replay(self, execution_id: str, task_run_id: str | None = None) -> Execution:
        source = self.get(execution_id)
        flow = self.catalog.get(source.namespace, source.flow_id, source.flow_revision)
        replayed = executor.replay(source, flow, task_run_id, self.env.clock(), registry=self.env.registry)
        return self._start_copy(replayed)

    def retry_in_new_execution(self, execution_id: str, retry_id: str) -> Execution:
        """A RetryExecution: the next attempt of the execution as a new one, with the id
        ``retry_id``; if that exists already (the command ran before), it is left as it is."""
        source = self.get(execution_id)
        flow = self.catalog.get(source.namespace, source.flow_id, source.flow_revision)
        try:
            return self._start_copy(executor.retry_execution(source, flow, self.env.clock(), replay_id=retry_id))
        except ExecutionExists as error:
            return self._created_before(retry_id, error)

    def _created_before(self, execution_id: str | None, error: ExecutionExists) -> Execution:
        """A create with a derived id met its row: the command that derived it ran before, and
        that execution stands as it is. Any other conflict is raised again."""
        existing = self.env.executions.get(execution_id, allow_deleted=True) if execution_id else None
        if existing is None:
            raise error
        return existing

    def _start_copy(self, copy: Execution) -> Execution:
        self.env.executions.create(copy)
        self.send(copy.id, ev.Start() if not copy.task_run_list else ev.Wake())
        return copy

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> Execution:
        with self.env.executions.lock(execution_id) as locked:
            execution = locked.execution
            flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
            changed = executor.change_task_run_state(execution, flow, task_run_id, state, self.env.clock())
            locked.save(changed)
        self.send(execution_id, ev.Wake())
        return changed

    def on_ended(self, execution: Execution, *, notify: bool = True) -> None:
        """An execution ended: let a queued execution of the flow start, start the executions of
        the Flow triggers listening to it, and (last, since the parent's reply settles its pending
        ``ended`` command) wake its parent."""
        self.slots.release(execution.namespace, execution.flow_id, execution.flow_revision)
        self.flow_triggers.on_state(execution)
        if notify:
            self.notify_parent(execution)

    def notify_parent(self, execution: Execution) -> None:
        """Sends the parent of a subflow execution its end, if the parent waits for it."""
        link = waiting_parent(execution)
        if link is None:
            return
        state, outputs = self._transmitted_outputs(execution, link.task_run_id)
        self.send(link.parent_id, ev.SubflowEnded(link.task_run_id, execution.id, state, outputs, link.iteration))

    def _transmitted_outputs(self, child: Execution, task_run_id: str) -> tuple[State, dict[str, Any]]:
        """The child's flow outputs, plus the Subflow task's (deprecated) ``outputs`` mapping
        rendered in the child's context; a mapping that fails to render fails the task."""
        outputs = dict(child.outputs)
        parent = self.env.executions.get(str(child.parent_id))
        if parent is None:
            return child.state.current, outputs
        parent_flow = self.catalog.get(parent.namespace, parent.flow_id, parent.flow_revision)
        task = parent_flow.find_task(parent.task_run(task_run_id).task_id)
        mapping = getattr(task, "outputs", None)
        if not mapping:
            return child.state.current, outputs
        child_flow = self.catalog.get(child.namespace, child.flow_id, child.flow_revision)
        variables = build_variables(child_flow, child, extra=self.extra_variables())
        try:
            with self.env.reading_for(child):
                outputs.update(self.env.renderer(child.namespace).render_value(dict(mapping), variables))
        except ExpressionError as err:
            self.commands.log(parent, task_run_id, "ERROR", f"cannot render the subflow outputs: {err}")
            return State.FAILED, outputs
        return child.state.current, outputs


