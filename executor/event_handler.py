"""What the executor process does with one event: apply it to its execution.

``EventHandler.handle_event`` is what ``podium.process_event`` runs for each message on the
executor queue: it locks the execution row, applies the event with the results waiting in the
outbox through the pure ``engine.executor.advance_all``, saves what changed with the commands that
write rows (one transaction), then carries out the others after the commit
(``ExecutionService.after_step``, the shared step shell). Several threads of one process take
turns on an execution (``ExecutionTurns``) rather than queue on its row lock, and a thread lingers
while results of a wide execution keep coming, so they are applied in one step.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from engine.executor import advance_all
from engine.executor import events as ev
from engine.log_config import bind_ids
from engine.metrics import EXECUTOR_EVENT
from engine.model.execution import Execution
from engine.persistence import LockedExecution
from engine.services.executions import ExecutionService
from engine.services.leases import RESULTS_PER_STEP, AppliedResults, forget_applied, take_waiting_results
from engine.services.messages import decode_event
from engine.services.runtime import Env
from executor.turns import ExecutionTurns

MAX_LINGER_SECONDS = 1.0  # the longest an executor thread waits for more results of one execution
# An execution with fewer unfinished task runs than this after a step is stepped again at once:
# the few results still to come are not worth gathering (a fan-out's join, a chain's last link).
GATHER_MIN_UNFINISHED = 16


class EventHandler:
    def __init__(self, env: Env, executions: ExecutionService) -> None:
        self.env, self.executions = env, executions
        self.applied = AppliedResults()
        self.turns = ExecutionTurns()

    def handle_event(self, execution_id: str, message: Mapping[str, Any]) -> None:
        with bind_ids(execution_id=execution_id):
            self._handle_event(execution_id, message)

    def _handle_event(self, execution_id: str, message: Mapping[str, Any]) -> None:
        event = decode_event(dict(message))
        started = time.perf_counter()
        if self.applied.contains(event):
            # Applied already, with the results that waited together: no lock, no load.
            self.env.metrics.observe(EXECUTOR_EVENT, time.perf_counter() - started, event=type(event).__name__)
            return
        if not (isinstance(event, ev.TaskRunResult) and event.state.is_terminated):
            self._step(execution_id, event, started)
            return
        if not self.turns.take(execution_id):
            return  # another thread of this process steps it; this result waits in the outbox for it
        try:
            cpu = time.thread_time()
            unfinished = self._step(execution_id, event, started)
            self._step_while_asked(execution_id, time.thread_time() - cpu, unfinished)
        except BaseException:
            self.turns.abandon(execution_id)  # a result left waiting is re-sent by beat from the outbox
            raise

    def _step_while_asked(self, execution_id: str, cpu: float, unfinished: int) -> None:
        """The owner's turn goes on while other threads left it results (ExecutionTurns)."""
        outbox = self.env.leases
        while self.turns.release(execution_id):
            # A step of a wide execution costs O(its task runs) of CPU: waiting as long as the last
            # step used lets its results gather, so this execution gets at most half of a CPU and
            # the workers producing the results the rest. The CPU time, not the wall time: a small
            # execution's step mostly waits for the database. Not when a full step's worth already
            # waits, nor when too few results are still to come to be worth gathering.
            waiting = outbox.waiting_results(execution_id, RESULTS_PER_STEP)
            if waiting < RESULTS_PER_STEP and unfinished >= GATHER_MIN_UNFINISHED:
                time.sleep(min(cpu, MAX_LINGER_SECONDS))
                waiting = outbox.waiting_results(execution_id, 1)
            if waiting:
                again, cpu = time.perf_counter(), time.thread_time()
                unfinished = self._step(execution_id, None, again)
                cpu = time.thread_time() - cpu

    def _step(self, execution_id: str, event: ev.Event | None, started: float) -> int:
        """One executor step: ``event`` (None: only the results waiting in the outbox) and the
        results waiting with it, applied under the execution's row lock; returns how many of the
        execution's task runs are unfinished after it."""
        executions, env = self.executions, self.env
        with env.executions.lock(execution_id) as locked:
            applied: list[ev.Event] = []
            if event is not None:
                forget_applied(env, event, locked.session)  # stale or not, it was delivered
                applied = executions.pending.settle(execution_id, event, locked.session)  # a pending command's reply
            waiting = take_waiting_results(env, execution_id, event, locked.session)
            # A lease expiry is judged after the results that wait: an attempt they end is no
            # longer lost, and a chain link whose predecessor they end is no longer waiting for it.
            events = [*waiting, *applied] if isinstance(event, ev.LeaseExpired) else [*applied, *waiting]
            before = self._load(locked, events)
            flow = executions.catalog.get(before.namespace, before.flow_id, before.flow_revision)
            with env.reading_for(before):  # read() and its kin read as this execution
                step = advance_all(before, flow, events, env.clock(),
                                   registry=env.registry, renderer=env.renderer(before.namespace),
                                   extra=executions.extra_variables(), chains=env.settings.executor.chains)
            changed = bool(events) and (step.execution_changed or step.execution != before)
            if changed:
                locked.save(step.execution)
                later = executions.commands.in_transaction(locked.session, step)
        self.applied.add(waiting)
        name = type(event).__name__ if event is not None else "TaskRunResult"
        unfinished = sum(1 for run in step.execution.task_run_list if not run.state.current.is_terminated)
        if not changed:
            env.metrics.observe(EXECUTOR_EVENT, time.perf_counter() - started, event=name)
            return unfinished
        executions.after_step(before, step, flow, later, name, started)
        return unfinished

    @staticmethod
    def _load(locked: LockedExecution, events: list[ev.Event]) -> Execution:
        """For task run results and lease expiries (whose handlers look at the leases of their own
        task runs only), the execution as this process saved it last if nobody wrote it since,
        with the leases of those task runs read again (workers write them directly, and the
        columns win: docs/reliability.md, "What the executor keeps in memory"); for any other
        event (a kill, a timer, Start...), everything read from the rows. Not the rows for a lease
        expiry: after a broker restart beat reports every unclaimed attempt, thousands for a wide
        ForEach, and a full read each would cost the square of its size."""
        of = [event.task_run_id for event in events if isinstance(event, (ev.TaskRunResult, ev.LeaseExpired))]
        if len(of) == len(events):
            return locked.load(leases_of=of)
        return locked.execution
