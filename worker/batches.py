"""The batch/chunk/join protocol: how a worker runs many attempts for the price of one message.

**Why.** Alone, a no-op task run costs a worker, besides the task itself, a transaction to claim
it, one to put its result in the outbox and two publishes (its result, the next message), and the
executor one step per result: several times raw Celery's one message. A *batch* is attempts of
one execution that one message runs one after the other, paying those costs once: their lineage
is read and their claims taken in one transaction (``BatchRunner._claim``); their results are
written to the outbox together and announced by one event, the first (``ResultBuffer``), and the
executor takes the others from the outbox in the same step (``engine.services.leases``).

Two messages carry a batch:

1. **A fan-out's chunk**, ``podium.run_task_runs`` (``BatchRunner.run_chunk``). The executor's
   dispatcher cuts a fan-out (the children of a Parallel or a ForEach dispatched together) with
   ``messaging.chunks.chunks``: at first into as few chunks as ``MAX_CHUNK`` (32 attempts) allows,
   one execution and queue (worker group) each. The worker claims a chunk's attempts, runs each
   whatever its siblings' outcome, and holds their results.
2. **A chain link**, ``podium.run_task_run`` (``run_chain_link``, ``BatchRunner.run_links``).
   Consecutive runnable tasks go out as a Celery chain (docs/executor.md, "Chains"). A link reads
   the links after it off Celery's ``request.chain`` (``links_after``) and runs them too while the
   budget lasts, each with the outputs of the links before it overlaid (``worker.carried_outputs``:
   the executor may not have recorded them yet). It then takes the links it ran off
   ``request.chain``, so Celery publishes the first one left, with the outputs they carry
   (``{"runs": ...}``) as its argument. A link that did not end SUCCESS, or a killed one, empties
   ``request.chain``: the chain stops there.

**The budget**, ``worker.batch_seconds`` (B), keeps batching from costing parallelism or fairness.
Once a batch has run B it takes no new attempt (``Batch``): a chunk *gives back* what it has not
started (claims released, dispatched again with ``spread=True``, so cut into at least ``CHUNKS``
chunks); a chain leaves the rest to Celery, whose next message queues behind other work. B is
also a timer: when it runs out while an attempt still runs, the rest is given back at once and the
results held so far are written, so no lease lapses behind a long attempt. A claim therefore waits
at most B for its attempt. ``batch_seconds: 0`` turns batches off.

**The patience of a chunk** (``outlasted``). A chunk is cheapest whole while its tasks are quick,
so it keeps its attempts until one has run ``SPREAD_AFTER_SECONDS``, or the chunk has, on attempts
of ``QUICK_SECONDS`` or more on average; then it gives back what it has not started, and that goes
out spread over idle worker slots. A chain has no patience: its links cannot run side by side.

**Joins.** When the executor dispatches every child of a Parallel at once and the task after it is
chain-safe, it creates that task's run, the *join*, up front (``engine.executor.joins`` decides),
saves a counter of the children with the step, and every chunk carries the join's ref. The
transaction that writes a chunk's results counts the counter down by their successes (or sets it
to NULL for good on a failure: ``LeaseKeeper.report_many``). That ``UPDATE ... RETURNING`` takes the
row's lock, so exactly one chunk sees zero, and it claims the join in the same transaction. It does
not send its results' event (``ResultBuffer.joined``): it runs the join next, on the lineage its
claim already read, with the children's outputs the executor has not applied yet overlaid (read
from the outbox), and the join's own result announces both to the executor, one step for both. A
join that runs longer than ``SPREAD_AFTER_SECONDS`` lets the children's results be announced then
(``Announcement``). Given-back attempts keep the join; the attempts beat re-sends do not carry it,
and the executor then sends the join itself once the fan-out ended.

**Where the pieces are.** The cut and a chunk's message: ``messaging.chunks``; the dispatcher:
``messaging.dispatch``; the Celery tasks: ``worker.tasks``; result writes and the announcement:
``worker.batch_results``; claims, the outbox and the join's count-down: ``worker.lease_keeper``;
one attempt: ``worker.task_runs``. docs/celery.md, "Batches, chunks and joins", draws it.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from engine.dispatch import TaskRunRef
from engine.metrics import message_sent_at
from engine.model.execution import Execution
from engine.services.runtime import Env
from engine.state import State
from engine.tasks.outcome import TaskOutcome
from messaging.task_names import RUN_TASK_RUN
from worker.batch_results import Announcement, ResultBuffer
from worker.carried_outputs import CarriedRuns, carried_runs, overlay
from worker.task_runs import TaskRunService, find_run, is_due, result_event, task_of

if TYPE_CHECKING:
    from celery.app.task import Context  # Celery is imported by the tasks that call run_chain_link

log = logging.getLogger("podium.worker")
#: A chunk runs its attempts one after the other only while they are quick: once one attempt has
#: run this long, or the chunk has on attempts of QUICK_SECONDS or more on average, the attempts it
#: has not started go back to the queue, for idle worker slots.
SPREAD_AFTER_SECONDS = 0.05
#: No-op attempts take about a millisecond, several on a loaded machine: a chunk of those stays
#: whole until the budget, as spreading them would cost more messages, claims and writes than it saves.
QUICK_SECONDS = 0.005
#: Whether an attempt was asked to stop before it started (the worker's kill switch).
Killed = Callable[[TaskRunRef], bool]
#: What a chain link returns for the next one: the outputs its links carry, or False to stop the chain.
LinkResult = tuple[dict[str, Any] | bool, int]


@runtime_checkable
class TaskRunner(Protocol):
    """What the worker's Celery tasks call: ``WorkerServices`` (``worker.services``)."""

    def run_links(self, refs: Sequence[TaskRunRef], carried: Mapping[str, Any] | None = None,
                  is_killed: Killed | None = None) -> LinkResult: ...

    def run_task_runs(self, refs: Sequence[TaskRunRef], is_killed: Killed | None = None,
                      join: TaskRunRef | None = None) -> None: ...

    def kill_local_task_runs(self, task_run_ids: list[str]) -> None: ...


def outlasted(patience: float, *, ran: float, current: float, taken: int) -> bool:
    """Whether a chunk that ``ran`` seconds, ``current`` of them on the attempt it runs now (its
    ``taken``-th), outlasted its patience: that attempt has run it, or the chunk has, on attempts
    that were not quick on average."""
    return current >= patience or (ran >= patience and ran >= taken * QUICK_SECONDS)


class Batch:
    """The attempts of one message, taken in order until done or until the budget is spent.

    ``give_back`` receives the attempts left when the budget ran out (from the watcher thread
    while an attempt still runs, or from ``take``), once the batch outlasted its ``patience``
    (a chunk's), or when the batch stopped early (``close``). ``spent`` runs on the watcher thread
    when the budget runs out while an attempt still runs: the results held so far are written
    then, before their leases could lapse behind a long attempt."""

    def __init__(self, refs: Sequence[TaskRunRef], budget: float,
                 give_back: Callable[[list[TaskRunRef]], None], spent: Callable[[], None] = lambda: None,
                 patience: float | None = None) -> None:
        self._waiting = deque(refs)
        self._give_back, self._spent = give_back, spent
        self._deadline = time.monotonic() + budget
        self._patience = patience
        self._lock = threading.Lock()
        self.taken = 0
        self._started_at = self._taken_at = time.monotonic()  # when the first, the latest attempt was taken
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        if len(refs) > 1:
            # In the caller's context: what it sends keeps its priority, what it logs its ids.
            self._watcher = threading.Thread(target=contextvars.copy_context().run, args=(self._watch,),
                                             daemon=True, name="podium-batch")
            self._watcher.start()

    def _watch(self) -> None:
        """Gives back the rest when the budget is spent or the batch outlasts its patience."""
        try:
            while not self._closed.wait(max(self._next_check() - time.monotonic(), 0.0)):
                now = time.monotonic()
                if now >= self._deadline:
                    self.stop()
                    self._spent()
                    return
                if self._impatient(now):
                    self.stop()
        except Exception:  # a watcher thread has nobody to raise to
            # What was not given back keeps its claim until it lapses (beat resubmits it then);
            # results not written stay held for the batch's last write.
            log.warning("a batch could not give back its rest or write its results yet", exc_info=True)

    def _next_check(self) -> float:
        with self._lock:
            if self._patience is None or not self._waiting:
                return self._deadline  # nothing left to spread: only the results to write
            slow = self._started_at + max(self._patience, self.taken * QUICK_SECONDS)
            return min(self._deadline, self._taken_at + self._patience, slow)

    def _impatient(self, now: float) -> bool:
        if self._patience is None:
            return False
        with self._lock:
            return outlasted(self._patience, ran=now - self._started_at, current=now - self._taken_at,
                             taken=self.taken)

    def take(self) -> TaskRunRef | None:
        """The next attempt to run; None when there is none left or the budget is spent (the
        first attempt is always run: it is the message's own)."""
        with self._lock:
            if self._waiting and (self.taken == 0 or time.monotonic() < self._deadline):
                now = time.monotonic()
                if self.taken == 0:
                    self._started_at = now
                self.taken += 1
                self._taken_at = now
                return self._waiting.popleft()
        self.stop()
        return None

    def stop(self) -> None:
        """Gives back every attempt not taken yet, but the message's own before it was taken."""
        self._cut(keep=1)

    def close(self) -> None:
        """Ends the batch once the watcher is done: a give-back it started is complete (released
        claims) before the message ends, and the next link's message cannot find them still held."""
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join()
        self._cut(keep=0)

    def _cut(self, keep: int) -> None:
        with self._lock:
            kept = keep if self.taken == 0 else 0
            rest = list(self._waiting)[kept:]
            self._waiting = deque(list(self._waiting)[:kept])
        if rest:
            self._give_back(rest)


class BatchRunner:
    """Runs this worker's batches: a fan-out's chunks (and their join), chain links."""

    def __init__(self, env: Env, task_runs: TaskRunService) -> None:
        self.env = env
        self.task_runs = task_runs
        self.leases = task_runs.leases

    def run_chunk(self, refs: Sequence[TaskRunRef], is_killed: Killed | None = None,
                  join: TaskRunRef | None = None) -> None:
        """A fan-out's chunk: every attempt runs whatever the others' outcome; the rest goes back
        to the queue, spread over more chunks, once the budget is spent or the chunk outlasted its
        patience. ``join``: the fan-out's join, run here next if this chunk's results are its
        last successes."""
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
        the children the executor has not applied yet overlaid if it reads them; True if its
        result was written."""
        carried: CarriedRuns = {}
        flow = self.task_runs.catalog.get(lineage.namespace, lineage.flow_id, lineage.flow_revision) \
            if lineage else None
        if flow is not None and self.task_runs.reads_other_runs(flow, task_of(flow, join.task_id)):
            carried = self.leases.waiting_outputs(join.execution_id)
        # The chunk's claim read the join's lineage too, and its last write claimed the join.
        known = lineage if lineage is not None and find_run(lineage, join.task_run_id) is not None else None
        with self._batch([join], self.leases.release, held={join.task_run_id}, lineage=known,
                         carried=carried) as (batch, claimed):
            if (ref := batch.take()) is not None and ref.task_run_id in claimed.ids and not killed(ref):
                claimed.run(ref)
        return claimed.results.written

    def run_links(self, refs: Sequence[TaskRunRef], carried: Mapping[str, Any] | None = None,
                  is_killed: Killed | None = None) -> LinkResult:
        """A chain link (``refs[0]``) and the links after it, run here while the budget lasts:
        (what the next link needs, or False when the chain must stop; how many of ``refs`` were
        taken). ``carried`` is what the previous link returned.

        A link stops the chain when its attempt did not end SUCCESS, or when it was not run here
        (a removed link, a killed execution, another worker holds it) and did not already end
        SUCCESS: a redelivered link whose attempt ended SUCCESS passes its recorded outputs along."""
        killed = is_killed or _never
        with self._batch(refs, self.leases.release, carried=carried_runs(carried)) as (batch, claimed):
            while (ref := batch.take()) is not None:
                outcome = claimed.run(ref) if ref.task_run_id in claimed.ids and not killed(ref) else None
                if outcome is not None:
                    if outcome.state != State.SUCCESS:
                        return False, batch.taken
                    claimed.carried = {**claimed.carried, ref.task_run_id: dict(outcome.outputs)}
                    message_sent_at.set(time.time())  # a Celery chain would send the next link now
                elif killed(ref) or not self._carry_recorded(ref, claimed):
                    return False, batch.taken
            return {"runs": claimed.carried}, batch.taken

    @contextlib.contextmanager
    def _batch(self, refs: Sequence[TaskRunRef], give_back: Callable[[list[TaskRunRef]], None],
               patience: float | None = None, join: TaskRunRef | None = None,
               held: Set[str] = frozenset(), lineage: Execution | None = None,
               carried: CarriedRuns | None = None) -> Iterator[tuple[Batch, _Claimed]]:
        """Claims ``refs`` (but ``held``, claimed already) and runs the body; then writes the
        results and gives back (releases) the claimed attempts the body did not take.
        ``lineage``: ``refs`` are all held and their lineage was read already: no transaction."""
        budget = self.env.settings.worker.batch_seconds
        results = ResultBuffer(self.leases, refs[0].execution_id, budget, join)
        if lineage is not None:
            claimed = _Claimed(self.task_runs, lineage, {ref.task_run_id for ref in refs} & held, results,
                               carried or {})
        else:
            claimed = self._claim(refs, results, held, also_read=[join.task_run_id] if join is not None else [],
                                  carried=carried or {})

        def give_back_claimed(rest: list[TaskRunRef]) -> None:
            if kept := [ref for ref in rest if ref.task_run_id in claimed.ids]:
                give_back(kept)

        batch = Batch(refs, budget, give_back_claimed, spent=results.flush, patience=patience)
        self.task_runs.held.add(refs[0].execution_id, results)  # log.Fetch writes what batches hold first
        try:
            yield batch, claimed
        finally:
            self.task_runs.held.discard(refs[0].execution_id, results)
            batch.close()
            results.flush()

    def _claim(self, refs: Sequence[TaskRunRef], results: ResultBuffer, held: Set[str],
               also_read: Sequence[str], carried: CarriedRuns) -> _Claimed:
        """Reads the attempts' lineage (and that of ``also_read``: a join this batch may run
        next) and claims those due, in one transaction; drops the ``carried`` outputs the
        database shows ended. If the execution is being killed, none is claimed and each is
        reported KILLED (chain links after the first too: the executor drops those results with
        the links, engine.executor.chains)."""
        execution_id = refs[0].execution_id
        with self.env.db.transaction() as tx:
            execution = self.env.executions.get_lineage(
                execution_id, [ref.task_run_id for ref in refs] + list(also_read), session=tx)
            if execution is None:
                return _Claimed(self.task_runs, None, set(), results, carried)  # deleted: nobody to report to
            runs = {run.id: run for run in execution.task_run_list}
            due = [ref for ref in refs if ref.task_run_id in runs and is_due(runs[ref.task_run_id], ref.attempt)]
            killed = execution.state.current in (State.KILLING, State.KILLED)
            taken = {ref.task_run_id for ref in due} & held
            ids: set[str] = set() if killed else taken | self.leases.claim_many(
                [ref for ref in due if ref.task_run_id not in taken], session=tx)
            if carried and not killed:
                # Links the database shows ended need not travel further down the chain.
                states = self.env.executions.task_run_states(carried, session=tx)
                carried = {key: value for key, value in carried.items()
                           if key not in states or not states[key].is_terminated}
        if killed:
            for ref in due:  # killed before this message was delivered
                results.add(result_event(ref, State.KILLED, {}), (), self.env.clock())
        return _Claimed(self.task_runs, execution, ids, results, carried)

    def _carry_recorded(self, ref: TaskRunRef, claimed: _Claimed) -> bool:
        """A link not run here whose attempt already ended SUCCESS (a redelivered message): its
        recorded outputs go on down the chain; False if it did not succeed."""
        execution = self.env.executions.get(ref.execution_id)
        run = find_run(execution, ref.task_run_id) if execution is not None else None
        if execution is None or run is None or len(run.attempts) < ref.attempt or \
                run.attempts[ref.attempt - 1].state.current != State.SUCCESS:
            return False
        _, known = overlay(execution, claimed.carried, self.env.clock())
        claimed.carried = {**known, run.id: dict(run.outputs)}
        return True


class _Claimed:
    """What a batch's claim found: the execution (its lineage), the task run ids claimed; and the
    outputs its attempts see overlaid (a chain's links, a join's children)."""

    def __init__(self, task_runs: TaskRunService, execution: Execution | None, ids: set[str],
                 results: ResultBuffer, carried: CarriedRuns) -> None:
        self._task_runs, self.execution, self.ids, self.results = task_runs, execution, ids, results
        self.carried = carried

    def run(self, ref: TaskRunRef) -> TaskOutcome:
        assert self.execution is not None  # nothing is claimed without it
        return self._task_runs.run_attempt(self.execution, ref, self.results, self.carried)


def run_chain_link(request: Context, ref: TaskRunRef, carried: dict[str, Any] | None,
                   runner: Callable[[], TaskRunner], is_killed: Killed) -> dict[str, Any] | None:
    """The body of ``podium.run_task_run``: runs the link ``ref`` and the links after it in
    ``request.chain`` (``runner()``, looked up only for a link that runs), takes those it ran off
    ``request.chain`` and returns what the next link needs. A killed link, or one that did not
    succeed, empties ``request.chain``: Celery continues a chain only after a link returned, and
    only with the links left in it."""
    if is_killed(ref):
        request.chain = None
        return None
    links = [ref, *links_after(request.chain)]
    outcome, taken = runner().run_links(links, carried, is_killed)
    if taken > 1:
        request.chain = request.chain[:-(taken - 1)]  # the next link is the last
    # A kill that arrived while the attempts ran also ends the chain they belong to.
    if outcome is False or any(is_killed(link) for link in links[:taken]):
        request.chain = None
        return None
    return outcome if isinstance(outcome, dict) else None


def links_after(chain: list[dict[str, Any]] | None) -> list[TaskRunRef]:
    """The task runs of the links after this one in its Celery chain (the next one is the last
    element), up to the first that is not a ``podium.run_task_run``."""
    refs: list[TaskRunRef] = []
    for link in reversed(chain or []):
        if not isinstance(link, dict) or link.get("task") != RUN_TASK_RUN or not isinstance(link.get("kwargs"), dict):
            break
        try:
            refs.append(TaskRunRef(**link["kwargs"]))
        except TypeError:
            break  # not a link Podium built
    return refs


def _never(ref: TaskRunRef) -> bool:
    return False
