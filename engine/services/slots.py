"""L3: a flow's concurrency limit (``concurrency: {limit, behavior}``): admissions and releases.

Both run under the flow's slot lock (``ExecutionRepository.lock_slots``: a PostgreSQL
transaction-scoped advisory lock; SQLite's write lock already serialises them), so an admission
and a release never both take the last slot (docs/reliability.md, "Concurrency limits").
"""
from __future__ import annotations

from engine.errors import NotFound
from engine.executor import events as ev
from engine.model.execution import Execution
from engine.model.flow import ConcurrencyBehavior, Flow
from engine.persistence import Session
from engine.persistence.executions import SLOT_STATES
from engine.services.flows import FlowCatalog
from engine.services.messages import send_event
from engine.services.runtime import Env
from engine.state import State

# A CREATED execution holds a slot too: it was admitted, its Start event is on its way.
HOLDING = SLOT_STATES | {State.CREATED}


class FlowSlots:
    def __init__(self, env: Env, catalog: FlowCatalog) -> None:
        self.env, self.catalog = env, catalog

    def admit(self, flow: Flow, execution: Execution, session: Session) -> Execution:
        """The execution as the flow's limit admits it: as it is, QUEUED, CANCELLED or FAILED.
        Takes the flow's slot lock until ``session`` ends; save the execution (and ``enqueue``
        it) in the same transaction."""
        limit = flow.concurrency
        if limit is None:
            return execution
        self.env.executions.lock_slots(flow.namespace, flow.id, session=session)
        running = self.env.executions.running_count(flow.namespace, flow.id, states=HOLDING, session=session)
        # First in, first out: while executions wait in the queue a newcomer queues behind them
        # (a slot that frees up goes to the oldest one, in release, under the same lock).
        waiting = limit.behavior == ConcurrencyBehavior.QUEUE and \
            self.env.queue.count(flow.namespace, flow.id, session=session) > 0
        if running < limit.limit and not waiting:
            return execution
        now = self.env.clock()
        if limit.behavior == ConcurrencyBehavior.QUEUE:
            return execution.with_state(State.QUEUED, now)
        if limit.behavior == ConcurrencyBehavior.CANCEL:
            return execution.with_state(State.CANCELLED, now)
        return execution.with_state(State.FAILED, now)

    def enqueue(self, flow: Flow, execution: Execution, session: Session) -> None:
        """Puts an execution ``admit`` made QUEUED in the flow's queue (saved in ``session``)."""
        if execution.state.current == State.QUEUED:
            self.env.queue.enqueue(flow.namespace, flow.id, execution.id, self.env.clock(), session=session)

    def release(self, namespace: str, flow_id: str, revision: int | None = None) -> list[str]:
        """Starts as many queued executions of the flow as it has free slots, oldest first.

        Counting the slots, popping the queue and QUEUED -> CREATED happen in one transaction under
        the flow's slot lock (the one admissions take), so a release and a new execution never
        both take the last slot, and a crash leaves an execution either queued or CREATED (whose
        Start beat re-sends), never lost. Beat also calls this to repair a lost release.
        """
        try:
            flow = self.catalog.get(namespace, flow_id, revision)
        except NotFound:
            return []
        if flow.concurrency is None:
            return []
        started: list[str] = []
        with self.env.db.transaction() as session:
            self.env.executions.lock_slots(namespace, flow_id, session=session)
            running = self.env.executions.running_count(namespace, flow_id, states=HOLDING, session=session)
            while running < flow.concurrency.limit:
                next_id = self.env.queue.pop(namespace, flow_id, session=session)
                if next_id is None:
                    break
                locked = self.env.executions.lock_in(session, next_id)
                if locked is None or locked.execution.state.current != State.QUEUED:
                    continue
                locked.save(locked.execution.with_state(State.CREATED, self.env.clock()))
                started.append(next_id)
                running += 1
        for next_id in started:
            send_event(self.env.dispatcher, next_id, ev.Start())
        return started
