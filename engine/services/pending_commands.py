"""L3: the executor's commands that leave the process, kept until they are done.

A step's commands that leave the process run after its commit, so a crash between the two, or a
broker that loses their reply, would leave the execution RUNNING for ever. The ones below are
saved with the step as ``pending_commands`` rows (docs/reliability.md, "Pending commands"):

========  =====================================  ===================================
kind      command                                the row goes when
========  =====================================  ===================================
subflow   StartSubflow (a child execution)       its ``SubflowStarted`` is applied
split     SplitItems (a ForEachItem's batches)   its ``ItemsSplit`` is applied
merge     MergeItemsOutputs                      its ``ItemsMerged`` is applied
ended     ExecutionEnded, with a waiting parent  the parent applied ``SubflowEnded``
          or a Flow trigger listening            (no parent: once Flow triggers ran)
retry     RetryExecution (a new execution)       the new execution exists
event     a Kill or Resume an operation (the     the execution applies it (or has
          API, the CLI, a killed parent) sends   ended, or is no longer PAUSED)
========  =====================================  ===================================

Beat runs a row again once it is due. Running one twice is harmless: a child and a retried
execution get derived ids (created once, found the second time), Flow triggers claim each state
change once, split and merge write the same files. A reply that comes twice is harmless too:
the executor drops a ForEachItem iteration reply whose row is already gone (its counts are not
idempotent); the other replies are no-ops on a task run that moved on.

The commands runner (engine/services/commands.py) saves and drops the rows, so it imports this
module; beat's replay runs a command again through ``ExecutionShell``
(engine/services/execution_shell.py), never by importing the runner or the execution service.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engine.errors import PodiumError
from engine.executor import commands as cmd
from engine.executor import events as ev
from engine.ids import derived_id
from engine.model.execution import Execution
from engine.persistence import Session
from engine.persistence.pending_commands import PendingCommand
from engine.services.execution_shell import ExecutionShell
from engine.services.flow_triggers import FlowTriggerService
from engine.services.flows import FlowCatalog
from engine.services.leases import lease_seconds
from engine.services.messages import decode_command, decode_event, encode_command, encode_event, send_event
from engine.services.runtime import Env
from engine.state import State

log = logging.getLogger("podium.pending")
_BATCH = 500
_KEPT = (cmd.StartSubflow, cmd.SplitItems, cmd.MergeItemsOutputs, cmd.ExecutionEnded, cmd.RetryExecution)


def subflow_key(task_run_id: str, iteration: int | None) -> str:
    return f"subflow:{task_run_id}:{iteration or 0}"


def ended_key(execution_id: str) -> str:
    return f"ended:{execution_id}"


def child_id(parent_id: str, task_run_id: str, attempt: int, iteration: int | None) -> str:
    """The id of the child a StartSubflow creates: the same when the command runs again."""
    return derived_id("subflow", parent_id, task_run_id, attempt, iteration or 0)


def event_key(execution_id: str, event: ev.Event) -> str:
    return f"event:{type(event).__name__}:{execution_id}"


def reply_key(event: ev.Event, execution_id: str) -> str | None:
    """The pending command that ``event``, applied to the execution ``execution_id``, settles."""
    if isinstance(event, (ev.Kill, ev.Resume)):
        return event_key(execution_id, event)
    if isinstance(event, ev.SubflowStarted):
        return subflow_key(event.task_run_id, event.iteration)
    if isinstance(event, ev.SubflowEnded):
        return ended_key(event.child_execution_id)
    if isinstance(event, ev.ItemsSplit):
        return f"split:{event.task_run_id}"
    if isinstance(event, ev.ItemsMerged):
        return f"merge:{event.task_run_id}"
    return None


class ParentLink(NamedTuple):
    parent_id: str
    task_run_id: str  # the parent's Subflow or ForEachItem task run
    iteration: int | None  # a ForEachItem's batch number


def waiting_parent(execution: Execution) -> ParentLink | None:
    """The task run of the parent that waits for this subflow execution's end, if any."""
    trigger = execution.trigger
    if execution.parent_id is None or trigger is None:
        return None
    task_run_id = trigger.variables.get("taskRunId")
    if not task_run_id or not trigger.variables.get("wait", True):
        return None
    return ParentLink(execution.parent_id, str(task_run_id), trigger.variables.get("iteration"))


class PendingCommands:
    def __init__(self, env: Env, catalog: FlowCatalog, flow_triggers: FlowTriggerService,
                 shell: ExecutionShell) -> None:
        self.env, self.catalog, self.flow_triggers, self.shell = env, catalog, flow_triggers, shell
        self.repository = env.pending_commands

    @property
    def _grace(self) -> timedelta:
        """How long a command may take before beat runs it again."""
        return timedelta(seconds=2 * lease_seconds(self.env))

    # -- the executor -----------------------------------------------------------------------------

    def save(self, execution: Execution, commands: Sequence[cmd.Command], *, session: Session) -> None:
        """In the step's transaction: a row for each command that must not be lost, and one for
        the Kill each child of a killed task run is sent."""
        now = self.env.clock()
        rows = []
        for command in commands:
            if isinstance(command, cmd.KillTaskRuns):
                rows += [self._event_row(child, ev.Kill(), now) for child in command.child_execution_ids]
            elif isinstance(command, _KEPT):
                found = self._row(execution, command)
                if found is not None:
                    key, payload = found
                    rows.append(PendingCommand(key, execution.id, key.split(":", 1)[0], payload, now,
                                               now + self._grace))
        self.repository.put(rows, session=session)

    def _row(self, execution: Execution, command: cmd.Command) -> tuple[str, dict[str, Any]] | None:
        if isinstance(command, cmd.StartSubflow):
            attempt = max(len(execution.task_run(command.task_run_id).attempts), 1)
            return (subflow_key(command.task_run_id, command.iteration),
                    {"command": _as_json(encode_command(command)), "attempt": attempt})
        if isinstance(command, (cmd.SplitItems, cmd.MergeItemsOutputs)):
            kind = "split" if isinstance(command, cmd.SplitItems) else "merge"
            return f"{kind}:{command.task_run_id}", {"command": encode_command(command)}
        if isinstance(command, cmd.RetryExecution):
            return f"retry:{execution.id}", {"retry_id": self.retry_id(execution)}
        if isinstance(command, cmd.ExecutionEnded):
            parent = waiting_parent(execution) is not None
            if parent or self.flow_triggers.may_listen(execution):
                return ended_key(execution.id), {"reply": parent}
        return None

    def send_kept(self, execution_id: str, event: ev.Kill | ev.Resume) -> None:
        """Sends an operation's Kill or Resume, kept until the execution applied it: a broker that
        loses it does not leave the execution running or paused for good."""
        with self.env.db.transaction() as session:
            self.repository.put([self._event_row(execution_id, event, self.env.clock())], session=session)
        send_event(self.env.dispatcher, execution_id, event)

    def _event_row(self, target: str, event: ev.Kill | ev.Resume, now: datetime) -> PendingCommand:
        """A Kill or Resume to ``target``, kept until ``target`` applies it."""
        return PendingCommand(event_key(target, event), target, "event", {"event": _as_json(encode_event(event))},
                              now, now + self._grace)

    @staticmethod
    def retry_id(execution: Execution) -> str:
        """The id of the execution a RetryExecution creates: one per end of the execution."""
        return derived_id("retry", execution.id, len(execution.state.histories))

    def settle(self, execution_id: str, event: ev.Event, session: Session) -> list[ev.Event]:
        """In the step's transaction that applies ``event`` to ``execution_id``: drops the command
        it replies to, and returns the events to apply: none for a repeated ForEachItem iteration
        reply (its counts are not idempotent); for a subflow's end whose start was not applied yet
        (that message is late or lost), the start first, so the start arriving later is the
        repeated one."""
        key = reply_key(event, execution_id)
        if key is None:
            return [event]
        if not self.repository.settle(key, session=session) and getattr(event, "iteration", None) is not None:
            return []
        if isinstance(event, ev.SubflowEnded) and \
                self.repository.settle(subflow_key(event.task_run_id, event.iteration), session=session):
            return [ev.SubflowStarted(event.task_run_id, event.child_execution_id, event.iteration), event]
        return [event]

    def done(self, execution: Execution, command: cmd.Command) -> None:
        """A command without a reply was carried out: its row goes."""
        if isinstance(command, cmd.RetryExecution):
            self.repository.drop([f"retry:{execution.id}"])
        elif isinstance(command, cmd.ExecutionEnded) and waiting_parent(execution) is None \
                and self.flow_triggers.may_listen(execution):  # else no row was saved
            self.repository.drop([ended_key(execution.id)])

    def keep_alive(self, execution_id: str) -> None:
        """The executor is still carrying out this execution's commands: beat must wait."""
        self.repository.extend(execution_id, self.env.clock() + self._grace)

    # -- beat -------------------------------------------------------------------------------------

    def replay_due(self, now: datetime) -> int:
        """Runs again the commands whose reply did not come; returns how many ran."""
        ran = 0
        for pending in self.repository.due(now, limit=_BATCH):
            if not self.repository.postpone(pending.id, now, now + max(self._grace, now - pending.created)):
                continue  # settled meanwhile, or another beat took it
            try:
                ran += self._replay(pending)
            except Exception:  # one broken command must not stop the others
                log.exception("pending command %s of execution %s failed again", pending.id, pending.execution_id)
        return ran

    def _replay(self, pending: PendingCommand) -> int:
        execution = self.env.executions.get(pending.execution_id)
        if execution is None:
            self.repository.drop([pending.id])
            return 0
        if pending.kind == "ended":
            return self._replay_ended(pending, execution)
        if pending.kind == "event":
            return self._replay_event(pending, execution)
        if pending.kind == "retry":
            self.shell.retry_in_new_execution(execution.id, str(pending.payload["retry_id"]))
            self.repository.drop([pending.id])
            return 1
        command = decode_command(dict(pending.payload["command"]))
        if not self._still_awaited(execution, command.task_run_id, pending.payload.get("attempt")):
            self.repository.drop([pending.id])
            return 0
        log.warning("%s of %s: no reply yet; running it again", pending.id, execution.describe())
        flow = self.catalog.get(execution.namespace, execution.flow_id, execution.flow_revision)
        self.shell.after_commit(execution, flow, [command])
        return 1

    def _replay_ended(self, pending: PendingCommand, execution: Execution) -> int:
        parent = waiting_parent(execution)
        if parent is not None and not self._still_awaited(self.env.executions.get(parent.parent_id),
                                                          parent.task_run_id):
            parent = None  # nobody waits for this end any more
        log.warning("the end of %s: not seen by %s yet; telling it again", execution.describe(),
                    "its parent" if parent else "Flow triggers")
        self.shell.on_ended(execution, notify=parent is not None)
        if parent is None:
            self.repository.drop([pending.id])
        return 1

    def _replay_event(self, pending: PendingCommand, execution: Execution) -> int:
        event = decode_event(dict(pending.payload["event"]))
        state = execution.state.current
        if state.is_terminated or (isinstance(event, ev.Resume) and state != State.PAUSED):
            self.repository.drop([pending.id])  # applied, or nothing left for it to do
            return 0
        log.warning("%s of %s not applied yet; sending it again", type(event).__name__, execution.describe())
        send_event(self.env.dispatcher, execution.id, event)
        return 1

    @staticmethod
    def _still_awaited(execution: Execution | None, task_run_id: str, attempt: int | None = None) -> bool:
        """Whether the task run that issued a command still waits for its reply."""
        if execution is None or execution.state.current.is_terminated:
            return False
        try:
            run = execution.task_run(task_run_id)
        except (KeyError, PodiumError):
            return False
        return not run.state.current.is_terminated and (attempt is None or len(run.attempts) == attempt)


def _as_json(message: dict[str, Any]) -> dict[str, Any]:
    # JSON through and back: rendered inputs may hold dates, which the row keeps as text.
    return dict(json.loads(json.dumps(message, default=str)))


class KeepAlive:
    """Tells beat, now and then, that the executor is still carrying out an execution's commands."""

    def __init__(self, pending: PendingCommands, execution_id: str) -> None:
        self.pending, self.execution_id = pending, execution_id
        self.every = lease_seconds(pending.env) / 3
        self._next = time.monotonic() + self.every

    def tick(self) -> None:
        if time.monotonic() >= self._next:
            self.pending.keep_alive(self.execution_id)
            self._next = time.monotonic() + self.every
