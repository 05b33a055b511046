"""L3: carrying out the executor's commands.

Commands that only write rows (timers, logs) run inside the transaction that saves the step,
so a crash cannot keep one without the other. Commands that leave the process (dispatch to
workers, child executions, kills) run after the commit, so a message never names unsaved work;
the step saves a dispatch deadline for each dispatched attempt and a pending command row for the
others that must not be lost (engine/services/pending_commands.py), so beat can do them again.

Each command that leaves the process has one handler in ``CommandRunner.handlers``, keyed by its
class; a command without one raises rather than being skipped. The handlers that start executions
or end one call the execution service back through ``ExecutionShell``
(engine/services/execution_shell.py), which is why this module does not import ``executions``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from engine.dispatch import TaskRunRef, queue_of
from engine.executor import commands as cmd
from engine.executor import events as ev
from engine.executor.step_state import Step
from engine.model.execution import Execution, ExecutionTrigger, TaskRun
from engine.model.flow import Flow
from engine.model.task import LogLevel
from engine.persistence import Session
from engine.persistence.logs import LogEntry
from engine.persistence.timers import Timer
from engine.services.execution_shell import ExecutionShell
from engine.services.items import merge_outputs, split_items
from engine.services.leases import dispatch_deadline
from engine.services.messages import send_event
from engine.services.pending_commands import KeepAlive, PendingCommands, child_id
from engine.services.runtime import Env
from engine.state import State
from engine.storage.base import StorageError

#: Written in the step's transaction.
IN_TRANSACTION = (cmd.ScheduleTimer, cmd.CancelTimers, cmd.Log)
#: Tell what the step did; nothing outside the process waits for them.
ANNOUNCEMENTS = (cmd.ExecutionPaused, cmd.ResumeExecution)

# A handler gets the execution, its flow and the command of the class it is registered for.
Handler = Callable[[Execution, Flow, Any], None]


def _dispatched_ids(command: cmd.Command) -> tuple[str, ...]:
    if isinstance(command, cmd.DispatchTaskRuns):
        return command.task_run_ids
    if isinstance(command, cmd.DispatchWorkingDirectory):
        return (command.task_run_id,)
    return ()


class CommandRunner:
    def __init__(self, env: Env, pending: PendingCommands, shell: ExecutionShell) -> None:
        self.env, self.pending, self.shell = env, pending, shell
        self.handlers: dict[type, Handler] = {
            cmd.DispatchTaskRuns: self._dispatch_task_runs,
            cmd.DispatchWorkingDirectory: self._dispatch_working_directory,
            cmd.StartSubflow: self._start_subflow,
            cmd.SplitItems: self._split_items,
            cmd.MergeItemsOutputs: self._merge_items_outputs,
            cmd.KillTaskRuns: self._kill_task_runs,
            cmd.RetryExecution: self._retry_execution,
            cmd.ExecutionEnded: self._execution_ended,
        }

    def in_transaction(self, session: Session, step: Step, *,
                       deadlines_written: bool = False) -> list[cmd.Command]:
        """Writes timers and logs with the step; returns the commands to run after commit.
        ``deadlines_written``: the step's rows were inserted with their dispatch deadlines
        (``dispatch_deadlines``), so no UPDATE is needed for them."""
        later: list[cmd.Command] = []
        for command in step.commands:
            if isinstance(command, cmd.ScheduleTimer):
                # One timer per (kind, task run): re-adding after a crash replaces, never doubles.
                self.env.timers.add(Timer(id=f"{command.kind.value}:{command.task_run_id}", due_at=command.at,
                                          kind=command.kind.value, execution_id=step.execution.id,
                                          task_run_id=command.task_run_id, payload=dict(command.payload)),
                                    session=session)
            elif isinstance(command, cmd.CancelTimers):
                for timer in self.env.timers.for_execution(step.execution.id, session=session):
                    if timer.task_run_id == command.task_run_id:
                        self.env.timers.delete(timer.id, session=session)
            elif isinstance(command, cmd.Log):
                self.env.logs.append([self._log_row(step.execution, command)], session=session)
            elif isinstance(command, cmd.DispatchTaskRuns):
                if command.join is not None:
                    # The counter is saved with the step that created the join (engine/executor/joins.py).
                    self.env.joins.create(command.join, step.execution.id, len(command.task_run_ids),
                                          session=session)
                if command.unless_claimed:
                    # A claim is committed with the result that ended the fan-out, which this step
                    # applied, so it shows here: a join the worker took is neither marked nor sent.
                    ids = self.env.leases.unclaimed(command.task_run_ids, session=session)
                    command = replace(command, task_run_ids=tuple(ids), unless_claimed=False)
                if command.task_run_ids:
                    later.append(command)
            elif not isinstance(command, ANNOUNCEMENTS):
                self._handler(command)  # before the commit: a step nobody can carry out is not saved
                later.append(command)
        # A deadline for a worker to claim each dispatched attempt, saved with the step: if the
        # message is lost (broker restarted, crash before the send), beat dispatches it again.
        dispatched = [run_id for command in later for run_id in _dispatched_ids(command)]
        if dispatched and not deadlines_written:
            self.env.leases.mark_dispatched(dispatched, dispatch_deadline(self.env, self.env.clock()),
                                            session=session)
        self.pending.save(step.execution, later, session=session)
        return later

    def dispatch_deadlines(self, step: Step) -> dict[str, datetime]:
        """The claim deadline of each task run the step dispatches, for rows not inserted yet."""
        deadline = dispatch_deadline(self.env, self.env.clock())
        return {run_id: deadline for command in step.commands for run_id in _dispatched_ids(command)}

    def after_commit(self, execution: Execution, flow: Flow, commands: Sequence[cmd.Command]) -> None:
        keep_alive = KeepAlive(self.pending, execution.id) if len(commands) > 1 else None
        for command in commands:
            self._handler(command)(execution, flow, command)
            self.pending.done(execution, command)
            if keep_alive is not None:
                keep_alive.tick()  # thousands of children take longer than beat's patience

    def _handler(self, command: cmd.Command) -> Handler:
        handler = self.handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler carries out the executor command {type(command).__name__} "
                            "after the commit: add one to CommandRunner.handlers")
        return handler

    # -- one handler per command that leaves the process ------------------------------------------

    def _dispatch_task_runs(self, execution: Execution, flow: Flow, command: cmd.DispatchTaskRuns) -> None:
        by_id = {run.id: run for run in execution.task_run_list}  # once: a fan-out names thousands
        refs = [self.ref(execution, flow, task_run_id, by_id) for task_run_id in command.task_run_ids]
        join = self.ref(execution, flow, command.join, by_id) if command.join is not None else None
        self.env.dispatcher.dispatch_task_runs(refs, chain=command.chain, join=join)

    def _dispatch_working_directory(self, execution: Execution, flow: Flow,
                                    command: cmd.DispatchWorkingDirectory) -> None:
        self.env.dispatcher.dispatch_task_runs([self.ref(execution, flow, command.task_run_id)])

    def _start_subflow(self, execution: Execution, flow: Flow, command: cmd.StartSubflow) -> None:
        trigger = ExecutionTrigger(id=execution.task_run(command.task_run_id).task_id, type="subflow",
                                   variables={"executionId": execution.id, "namespace": execution.namespace,
                                              "flowId": execution.flow_id,
                                              "flowRevision": execution.flow_revision,
                                              "taskRunId": command.task_run_id, "wait": command.wait,
                                              "iteration": command.iteration})
        labels = dict(command.labels)
        wanted = child_id(execution.id, command.task_run_id, self._attempt(execution, command.task_run_id),
                          command.iteration)
        try:
            child = self.shell.start_execution(
                command.namespace, command.flow_id, inputs=command.inputs, labels=labels,
                revision=command.revision, trigger=trigger, parent=execution,
                parent_task_run_id=command.task_run_id, execution_id=wanted)  # found if it ran before
        except Exception as err:  # noqa: BLE001 - the parent task run must fail visibly, whatever went wrong
            self._fail(execution, command.task_run_id, f"cannot start subflow {command.namespace}."
                       f"{command.flow_id}: {err}", error=str(err))
            return
        self._send(execution.id, ev.SubflowStarted(command.task_run_id, child.id, command.iteration))

    def _split_items(self, execution: Execution, flow: Flow, command: cmd.SplitItems) -> None:
        try:
            uris, splits = split_items(self.env.files, execution, command)
        except (StorageError, OSError, ValueError) as err:  # the items file: refused, missing, not text
            self._fail(execution, command.task_run_id, f"cannot split the items of {command.items!r}: {err}")
            return
        self._send(execution.id, ev.ItemsSplit(command.task_run_id, tuple(uris), splits))

    def _merge_items_outputs(self, execution: Execution, flow: Flow, command: cmd.MergeItemsOutputs) -> None:
        # The children of the ForEachItem's _items task run are known by their trigger, in batch order.
        started_by = command.items_task_run_id or command.task_run_id
        batches = [(child.trigger.variables.get("iteration") or 0, child)
                   for child in self.env.executions.children(execution.id)
                   if child.trigger is not None and child.trigger.variables.get("taskRunId") == started_by]
        children = [child for _, child in sorted(batches, key=lambda batch: batch[0])]
        uri = merge_outputs(self.env.storage, execution, command.task_run_id, children)
        self._send(execution.id, ev.ItemsMerged(command.task_run_id, uri))

    def _kill_task_runs(self, execution: Execution, flow: Flow, command: cmd.KillTaskRuns) -> None:
        by_id = {run.id: run for run in execution.task_run_list}
        refs = [self.ref(execution, flow, task_run_id, by_id) for task_run_id in command.task_run_ids]
        if refs:
            self.env.dispatcher.kill_task_runs(refs)
        for child in command.child_execution_ids:
            self._send(child, ev.Kill())

    def _retry_execution(self, execution: Execution, flow: Flow, command: cmd.RetryExecution) -> None:
        self.shell.retry_in_new_execution(command.execution_id, self.pending.retry_id(execution))

    def _execution_ended(self, execution: Execution, flow: Flow, command: cmd.ExecutionEnded) -> None:
        self.shell.on_ended(execution)

    # -- helpers --------------------------------------------------------------------------------

    def _fail(self, execution: Execution, task_run_id: str, message: str, error: str | None = None) -> None:
        """Ends the task run FAILED with ``error`` as its output (``message`` by default), logged."""
        self._send(execution.id, ev.TaskRunResult(task_run_id, self._attempt(execution, task_run_id), State.FAILED,
                                                  {"error": error if error is not None else message}))
        self.log(execution, task_run_id, "ERROR", message)

    def _send(self, execution_id: str, event: ev.Event) -> None:
        send_event(self.env.dispatcher, execution_id, event)

    @staticmethod
    def ref(execution: Execution, flow: Flow, task_run_id: str,
            by_id: Mapping[str, TaskRun] | None = None) -> TaskRunRef:
        run = by_id[task_run_id] if by_id is not None else execution.task_run(task_run_id)
        task = flow.find_task(run.task_id)
        return TaskRunRef(execution_id=execution.id, task_run_id=run.id, attempt=max(len(run.attempts), 1),
                          task_id=run.task_id, task_type=getattr(task, "type", "?"),
                          flow=f"{execution.namespace}.{execution.flow_id}", queue=queue_of(task))

    @staticmethod
    def _attempt(execution: Execution, task_run_id: str) -> int:
        return max(len(execution.task_run(task_run_id).attempts), 1)

    def log(self, execution: Execution, task_run_id: str | None, level: str, message: str) -> None:
        self.env.logs.append([self._log_row(execution, cmd.Log(task_run_id, level, message))])

    def _log_row(self, execution: Execution, command: cmd.Log) -> LogEntry:
        task_id = None
        if command.task_run_id is not None:
            task_id = execution.task_run(command.task_run_id).task_id
        return LogEntry(namespace=execution.namespace, flow_id=execution.flow_id, execution_id=execution.id,
                        task_run_id=command.task_run_id, task_id=task_id, level=LogLevel(command.level),
                        message=command.message, timestamp=self.env.clock())
