"""L2 adapter: executions and their task runs (one row per task run).

The executor's unit of work is ``lock``: in one transaction it takes the execution's row
lock (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), loads the
execution with its task runs, lets the caller compute the next state, and ``save`` writes
only the rows that differ from what was loaded. A 10,000-item ForEach therefore updates
one task-run row per event instead of rewriting one document. Commands that leave the
process (Celery dispatch) must be sent only after the ``with`` block, i.e. after commit.
"""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Row, bindparam, delete, exists, func, select, text, true, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.model.execution import Execution, TaskRun
from engine.persistence.base import NotFound, PersistenceError, Repository, affected, among, is_postgres
from engine.persistence.codec import execution_from_row, execution_row, task_run_content, task_run_row, with_raw_lease
from engine.persistence.db import Database
from engine.persistence.execution_writes import INSERT_RUNS, SaveStats, insert_labels, write_changes
from engine.persistence.records import Page as Page
from engine.persistence.step_cache import StepCache, with_runs
from engine.persistence.tables import execution_labels, executions, task_runs
from engine.persistence.task_run_memo import TaskRunMemo
from engine.state import State

# Executions holding a concurrency slot: started and not finished (PAUSED ones too, as in
# Kestra, since they resume without a new concurrency check).
SLOT_STATES = frozenset({State.RUNNING, State.PAUSED, State.KILLING, State.RESTARTED,
                         State.RETRYING})
# Built once, bound per call: building a statement with its values costs more than running it on
# a one-task execution (SQLAlchemy coerces and hashes every literal for its compiled cache).
_BY_ID = select(executions).where(executions.c.id == bindparam("execution_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_INSERT_EXECUTION = executions.insert()
# Transaction-scoped: released by the commit or rollback of the transaction that took it.
_SLOT_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


class ExecutionNotFound(NotFound):
    pass


class ExecutionExists(PersistenceError, Conflict):
    """Creating an execution whose id an existing one has (deleted ones included)."""


class LockedExecution:
    """An execution under its row lock; ``save`` writes the changes in that transaction.

    The execution is read on first use of ``execution``, or by ``load`` (which may reuse the one
    this process saved last, see engine/persistence/step_cache.py)."""

    def __init__(self, session: Session, repository: ExecutionRepository, row: Row[Any]) -> None:
        self.session = session
        self.version: int = row.version
        self._repository, self._row = repository, row
        self._execution: Execution | None = None

    @property
    def execution(self) -> Execution:
        if self._execution is None:
            self._execution = self._repository._read(self.session, self._row)
        return self._execution

    def load(self, *, leases_of: Iterable[str]) -> Execution:
        """The execution, reusing this process's last save of it if the row's version still
        matches, with the lease columns of ``leases_of`` (task run ids) read again."""
        if self._execution is None:
            self._execution = self._repository._reuse(self.session, self._row, leases_of)
        return self._execution

    def save(self, execution: Execution) -> SaveStats:
        if execution.id != self.execution.id:
            raise ValueError(f"cannot save {execution.describe()} under the lock of "
                             f"{self.execution.describe()}")
        stats = write_changes(self.session, self.execution, execution)
        # The memo's copies of rewritten runs are stale: the step cache holds the new ones, and
        # a 10,000-item ForEach would otherwise be held twice (the executor's peak RSS).
        self._repository.memo.forget(stats.rewritten)
        if stats.written:
            self.version += 1  # _write_changes raised it, under this lock
        self._execution = execution
        return stats


class ExecutionRepository(Repository):
    def __init__(self, db: Database, memo: TaskRunMemo | None = None) -> None:
        super().__init__(db)
        self.memo = memo if memo is not None else TaskRunMemo()
        self.steps = StepCache()

    def create(self, execution: Execution, *, session: Session | None = None,
               lease_until: Mapping[str, datetime] | None = None) -> None:
        """Inserts a new execution and all its task runs (ExecutionExists if an execution with
        its id exists, deleted or not: the primary key is the row's only constraint a complete
        record can break); ``lease_until``: the claim deadline of task runs dispatched with the insert."""
        with self._tx(session) as tx:
            try:
                # Bound parameters, not .values(**row): values in the statement cost a cache key each.
                tx.execute(_INSERT_EXECUTION, execution_row(execution))
            except IntegrityError as error:
                raise ExecutionExists(f"execution {execution.id} exists already") from error
            insert_labels(tx, execution)
            rows = [task_run_row(run, i) for i, run in enumerate(execution.task_run_list)]
            for row in rows:
                if lease_until and row["id"] in lease_until:
                    row["lease_until"] = lease_until[row["id"]]
            if rows:
                tx.execute(INSERT_RUNS, rows)

    def get(self, execution_id: str, *, allow_deleted: bool = False,
            session: Session | None = None) -> Execution | None:
        """The execution with its task runs, or None (also None if deleted, unless allowed)."""
        with self._tx(session, write=False) as tx:
            row = tx.execute(_BY_ID, {"execution_id": execution_id}).first()
            if row is None or (row.deleted and not allow_deleted):
                return None
            return execution_from_row(row._mapping, self._load_runs(tx, execution_id))

    def get_lineage(self, execution_id: str, task_run_ids: str | Sequence[str], *,
                    session: Session | None = None) -> Execution | None:
        """The execution with only the task runs ``task_run_ids`` and their ancestors: what a
        worker needs to run tasks whose templates read no other task run (no ``outputs``,
        ``tasks``). A ForEach item of 10,000 then reads a few rows, not 10,000."""
        ids = [task_run_ids] if isinstance(task_run_ids, str) else list(task_run_ids)
        with self._tx(session, write=False) as tx:
            # One query: the execution's row with its lineage's rows (a few), parsed unless the
            # memo has them; no lineage row (a missing task run) still gives the execution.
            rows = tx.execute(_LINEAGE[is_postgres(tx)], {"lineage_of": ids, "lineage_in": execution_id}).all()
            if not rows or rows[0].deleted:
                return None
            runs = [self._from_whole_row(full) for full in rows if full.id is not None]
            return execution_from_row({"body": rows[0].execution_body}, runs)

    def _from_whole_row(self, full: Row[Any]) -> TaskRun:
        """The run of a whole task run row (with ``lease_until_raw``): the memo's if it parsed this
        revision, else parsed and kept there; with the row's lease."""
        memo, lease = self.memo, (full.attempt, full.worker_id, full.lease_until_raw)
        run = memo.current(full.id, full.revision, lease)
        if run is None:
            content = task_run_content(full._mapping)
            memo.put(full.id, full.revision, content)
            run = memo.current(full.id, full.revision, lease) or with_raw_lease(content, lease)
        return run

    @contextmanager
    def lock(self, execution_id: str) -> Iterator[LockedExecution]:
        """Locks the execution's row and yields it (read on first use); commits on exit (rolls
        back on error). Raises ExecutionNotFound if there is no such execution."""
        with self.db.transaction() as tx:
            row = self._lock_row(tx, execution_id)
            if row is None:
                raise ExecutionNotFound(f"execution {execution_id} not found")
            locked = LockedExecution(tx, self, row)
            yield locked
        if locked._execution is not None:
            self.steps.put(locked._execution, locked.version)  # committed: exact at this version

    def lock_in(self, session: Session, execution_id: str) -> LockedExecution | None:
        """``lock`` inside a transaction the caller owns (several executions in one commit);
        None if there is no such execution."""
        row = self._lock_row(session, execution_id)
        if row is None:
            return None
        return LockedExecution(session, self, row)

    @staticmethod
    def _lock_row(tx: Session, execution_id: str) -> Row[Any] | None:
        return tx.execute(_BY_ID_LOCKED if is_postgres(tx) else _BY_ID, {"execution_id": execution_id}).first()

    def _read(self, tx: Session, row: Row[Any]) -> Execution:
        if row.version == 0:
            # Never saved since its creation, most often by another process (the API's first
            # step): few of its runs can be in this process's memo, so their rows are read whole
            # at once rather than heads first (one round trip fewer per new execution's step).
            return execution_from_row(row._mapping, self._load_new_runs(tx, row.id))
        return execution_from_row(row._mapping, self._load_runs(tx, row.id))

    def _load_new_runs(self, tx: Session, execution_id: str) -> list[TaskRun]:
        return [self._from_whole_row(full) for full in tx.execute(_WHOLE_RUNS_OF_ONE, {"_execution": execution_id})]

    def _reuse(self, tx: Session, row: Row[Any], leases_of: Iterable[str]) -> Execution:
        cached = self.steps.get(row.id, row.version)
        if cached is None:
            return self._read(tx, row)
        execution, positions = cached
        ids = [task_run_id for task_run_id in leases_of if task_run_id in positions]
        if not ids:
            return execution
        leases = tx.execute(_LEASES[is_postgres(tx)], {"_ids": ids}).all()
        runs = execution.task_run_list
        return with_runs(execution, positions, [with_raw_lease(runs[positions[id_]], tuple(lease))
                                                for id_, *lease in leases])

    def list(self, *, namespace: str | None = None, flow_id: str | None = None,
             state: State | Iterable[State] | None = None,
             labels: dict[str, str] | None = None, started_after: datetime | None = None,
             started_before: datetime | None = None, page: int = 1, size: int = 25,
             with_task_runs: bool = False, include_deleted: bool = False,
             session: Session | None = None) -> Page:
        """A page (1-based) of executions, newest first.

        ``namespace`` also matches child namespaces; every ``labels`` pair must match (a label
        too large for the index matches nothing: ``execution_writes.is_indexed``).
        Without ``with_task_runs`` the items have an empty ``task_run_list`` (a list page
        should not load thousands of task runs).
        """
        query = select(executions)
        if namespace is not None:
            query = query.where((executions.c.namespace == namespace) | executions.c.namespace
                                .startswith(namespace + ".", autoescape=True))
        if flow_id is not None:
            query = query.where(executions.c.flow_id == flow_id)
        if state is not None:
            states = [state] if isinstance(state, State) else list(state)
            query = query.where(executions.c.state.in_([s.value for s in states]))
        for key, value in (labels or {}).items():
            query = query.where(exists().where(execution_labels.c.execution_id == executions.c.id,
                                               execution_labels.c.key == key,
                                               execution_labels.c.value == value))
        if started_after is not None:
            query = query.where(executions.c.start_date >= started_after)
        if started_before is not None:
            query = query.where(executions.c.start_date < started_before)
        if not include_deleted:
            query = query.where(executions.c.deleted.is_(False))
        with self._tx(session, write=False) as tx:
            total = tx.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = tx.execute(query.order_by(executions.c.start_date.desc(), executions.c.id.desc())
                              .limit(size).offset((page - 1) * size)).all()
            items = self._hydrate(tx, rows, with_task_runs)
        return Page(items=items, total=total, page=page, size=size)

    def running_count(self, namespace: str, flow_id: str, *,
                      states: Iterable[State] = SLOT_STATES,
                      session: Session | None = None) -> int:
        """How many executions of the flow hold a concurrency slot (see SLOT_STATES)."""
        query = (select(func.count()).select_from(executions)
                 .where(executions.c.namespace == namespace, executions.c.flow_id == flow_id,
                        executions.c.state.in_([s.value for s in states]),
                        executions.c.deleted.is_(False)))
        with self._tx(session, write=False) as tx:
            return int(tx.execute(query).scalar_one())

    def lock_slots(self, namespace: str, flow_id: str, *, session: Session) -> None:
        """Takes the flow's slot lock (its concurrency limit) until ``session`` ends: a PostgreSQL
        advisory lock; SQLite's write lock already serialises the transactions that take it."""
        if is_postgres(session):
            session.execute(_SLOT_LOCK, {"key": f"podium-concurrency:{namespace}.{flow_id}"})

    def children(self, parent_id: str, *, with_task_runs: bool = False,
                 session: Session | None = None) -> builtins.list[Execution]:
        """Executions whose ``parent_id`` is ``parent_id`` (subflows, restarts with a revision)."""
        query = (select(executions).where(executions.c.parent_id == parent_id,
                                          executions.c.deleted.is_(False))
                 .order_by(executions.c.start_date, executions.c.id))
        with self._tx(session, write=False) as tx:
            return self._hydrate(tx, tx.execute(query).all(), with_task_runs)

    def task_run_states(self, task_run_ids: Iterable[str], *,
                        session: Session | None = None) -> dict[str, State]:
        """The state of each of these task runs that exists (a chain link pruning the outputs it
        carries)."""
        ids = list(task_run_ids)
        if not ids:
            return {}
        with self._tx(session, write=False) as tx:
            return {row.id: State(row.state) for row in tx.execute(_STATES[is_postgres(tx)], {"_ids": ids})}

    def delete(self, execution_id: str, *, hard: bool = False,
               session: Session | None = None) -> bool:
        """Soft-deletes (Kestra's default) or, with ``hard``, removes the rows; False if absent."""
        with self._tx(session) as tx:
            if hard:
                return bool(affected(tx.execute(delete(executions)
                                       .where(executions.c.id == execution_id))))
            row = tx.execute(select(executions.c.body).where(executions.c.id == execution_id)
                             .with_for_update()).first()
            if row is None:
                return False
            tx.execute(update(executions).where(executions.c.id == execution_id)
                       .values(deleted=True, body={**row.body, "deleted": True}, version=executions.c.version + 1))
            return True

    def _hydrate(self, tx: Session, rows: Sequence[Row[Any]],
                 with_task_runs: bool) -> builtins.list[Execution]:
        runs: dict[str, list[TaskRun]] = {}
        if with_task_runs and rows:
            runs = self._load_runs_of(tx, [row.id for row in rows])
        return [execution_from_row(row._mapping, runs.get(row.id, [])) for row in rows]

    def _load_runs(self, tx: Session, execution_id: str) -> builtins.list[TaskRun]:
        return self._load_runs_of(tx, [execution_id]).get(execution_id, [])

    def _load_runs_of(self, tx: Session, execution_ids: builtins.list[str]) -> dict[str, builtins.list[TaskRun]]:
        if len(execution_ids) == 1:
            return self._load_runs_where(tx, _HEADS_OF_ONE, {"_execution": execution_ids[0]})
        return self._load_runs_where(tx, _HEADS_OF, {"_executions": execution_ids})

    def _load_runs_where(self, tx: Session, heads: Any,
                         parameters: dict[str, Any]) -> dict[str, builtins.list[TaskRun]]:
        """The task runs whose row heads ``heads`` selects, by execution, in order: the memo's where
        the row's revision matches, parsed from a second query for the others; the lease columns
        always from the row."""
        rows = tx.execute(heads, parameters).all()
        # One pass over 10,000 rows per executor step: tuple unpacking, one memo lookup per row.
        memo = self.memo
        found = [memo.current(id_, revision, (attempt, worker_id, lease_until))
                 for id_, _, revision, attempt, worker_id, lease_until in rows]
        missing = [row[0] for row, run in zip(rows, found, strict=True) if run is None]
        parsed: dict[str, TaskRun] = {}
        for start in range(0, len(missing), _CHUNK):
            for full in tx.execute(_FULL_ROWS[is_postgres(tx)], {"_ids": missing[start:start + _CHUNK]}):
                parsed[full.id] = content = task_run_content(full._mapping)
                memo.put(full.id, full.revision, content)
        grouped: dict[str, builtins.list[TaskRun]] = {}
        for row, run in zip(rows, found, strict=True):
            id_, execution_id, revision, attempt, worker_id, lease_until = row
            if run is None:
                if id_ not in parsed:  # deleted between the two queries (a read without the lock)
                    continue
                # the memo applies the lease; a memo smaller than the execution may have dropped it
                lease = (attempt, worker_id, lease_until)
                run = memo.current(id_, revision, lease) or with_raw_lease(parsed[id_], lease)
            grouped.setdefault(execution_id, []).append(run)
        return grouped


# What the loader reads of every task run row; the content columns only for rows it has not parsed.
# The lease columns, lease_until raw (no UtcDateTime per row): the memo compares the values,
# codec.with_raw_lease converts them.
_LEASE_COLUMNS = (task_runs.c.attempt, task_runs.c.worker_id,
                  type_coerce(task_runs.c.lease_until, DateTime(timezone=True)).label("lease_until"))
_HEAD_COLUMNS = (task_runs.c.id, task_runs.c.execution_id, task_runs.c.revision, *_LEASE_COLUMNS)
_CHUNK = 500  # ids per IN (...): far below SQLite's and PostgreSQL's parameter limits


def _lineage_condition(of: Any) -> Any:
    """``task_runs.id IN`` the task runs ``of`` (a condition on ``:lineage_of``) of execution
    ``:lineage_in`` and their ancestors (a recursive CTE over ``parent_task_run_id``; UNION, so
    siblings' shared ancestors are walked once); built once, bound per call."""
    chain = (select(task_runs.c.id, task_runs.c.parent_task_run_id)
             .where(of, task_runs.c.execution_id == bindparam("lineage_in"))
             .cte("lineage", recursive=True))
    parent = task_runs.alias("parent")
    chain = chain.union(select(parent.c.id, parent.c.parent_task_run_id)
                        .where(parent.c.id == chain.c.parent_task_run_id))
    return task_runs.c.id.in_(select(chain.c.id))


_ORDER = (task_runs.c.execution_id, task_runs.c.position)
_HEADS_OF = select(*_HEAD_COLUMNS).where(task_runs.c.execution_id.in_(bindparam("_executions", expanding=True))) \
    .order_by(*_ORDER)


def _lineage_query(of: Any) -> Any:
    """The execution ``:lineage_in`` (its body) left-joined to the task runs ``:lineage_of`` and
    their ancestors (what a worker reads before it runs tasks), one row per task run."""
    runs = (select(task_runs.c.id, task_runs.c.revision, task_runs.c.body, task_runs.c.attempts,
                   task_runs.c.outputs, task_runs.c.position, *_LEASE_COLUMNS[:2],
                   _LEASE_COLUMNS[-1].label("lease_until_raw"))
            .where(_lineage_condition(of)).subquery("lineage_runs"))
    return (select(executions.c.body.label("execution_body"), executions.c.deleted, runs)
            .select_from(executions.outerjoin(runs, true()))
            .where(executions.c.id == bindparam("lineage_in")).order_by(runs.c.position))


# Indexed by is_postgres(session).
_LINEAGE = tuple(_lineage_query(of) for of in among(task_runs.c.id, "lineage_of"))
_HEADS_OF_ONE = select(*_HEAD_COLUMNS).where(task_runs.c.execution_id == bindparam("_execution")) \
    .order_by(task_runs.c.position)

_WHOLE_RUNS_OF_ONE = (select(task_runs, _LEASE_COLUMNS[-1].label("lease_until_raw"))
                      .where(task_runs.c.execution_id == bindparam("_execution")).order_by(task_runs.c.position))
# Indexed by is_postgres(session).
_FULL_ROWS = tuple(select(task_runs).where(condition) for condition in among(task_runs.c.id, "_ids"))
_STATES = tuple(select(task_runs.c.id, task_runs.c.state).where(condition)
                for condition in among(task_runs.c.id, "_ids"))
_LEASES = tuple(select(task_runs.c.id, *_LEASE_COLUMNS).where(condition) for condition in among(task_runs.c.id, "_ids"))
