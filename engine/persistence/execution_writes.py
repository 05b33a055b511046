"""L2 adapter: what ``LockedExecution.save`` writes: the execution row if it changed, and only the
task run rows that changed (engine/persistence/executions.py reads them)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session

from engine.model.execution import Execution
from engine.persistence.codec import execution_row, task_run_row
from engine.persistence.tables import execution_labels, executions, task_runs

_EXECUTION_COLUMNS = [c.name for c in executions.columns if c.name not in ("id", "version")]
_CHUNK = 500  # rows per INSERT: a wide fan-out inserts 10,000
# The largest label the index table takes: a key of String(255), and a key and value of at most
# this many UTF-8 bytes together, which PostgreSQL's btree index on (key, value) holds whatever
# they are (its limit is 2704 bytes a row). Larger labels stay in the execution, not in the index.
INDEXED_LABEL_KEY_CHARS = 255
INDEXED_LABEL_BYTES = 2000

# Built once, bound per call (see engine/persistence/executions.py).
INSERT_RUNS = task_runs.insert()
_UPDATE_EXECUTION = (update(executions).where(executions.c.id == bindparam("_id"))
                     .values({**{c: bindparam(f"_{c}") for c in _EXECUTION_COLUMNS},
                              "version": executions.c.version + 1}))
_RAISE_VERSION = update(executions).where(executions.c.id == bindparam("_id")).values(version=executions.c.version + 1)
_UPDATE_RUN = update(task_runs).where(task_runs.c.id == bindparam("_id")).values(revision=task_runs.c.revision + 1)


@dataclass(frozen=True)
class SaveStats:
    """What a save wrote: useful in tests and metrics, ignorable otherwise."""

    execution_written: bool = False
    task_runs_inserted: int = 0
    task_runs_updated: int = 0
    task_runs_deleted: int = 0
    rewritten: tuple[str, ...] = ()  # ids of the task runs updated or deleted

    @property
    def written(self) -> bool:
        return bool(self.execution_written or self.task_runs_inserted or self.task_runs_updated
                    or self.task_runs_deleted)


def insert_labels(tx: Session, execution: Execution) -> None:
    """The label index rows of ``execution`` (what ``labels`` filters read): those of its labels
    that fit (``is_indexed``), on both databases alike."""
    rows = [{"execution_id": execution.id, "key": k, "value": v}
            for k, v in execution.label_map.items() if is_indexed(k, v)]
    if rows:
        tx.execute(execution_labels.insert(), rows)


def is_indexed(key: str, value: str) -> bool:
    """Whether a label goes in the index table: one too large for PostgreSQL's index would make
    the execution unsavable there (and a label filter finds it on SQLite only)."""
    return len(key) <= INDEXED_LABEL_KEY_CHARS and len(key.encode()) + len(value.encode()) <= INDEXED_LABEL_BYTES


def write_changes(tx: Session, before: Execution, after: Execution) -> SaveStats:
    """Writes the execution row if it changed, and only the task runs that changed.

    A run is written when its content or its position in ``task_run_list`` differs from
    what was loaded; runs no longer in the list are deleted (restart drops some).
    """
    old_runs = {run.id: (index, run) for index, run in enumerate(before.task_run_list)}
    inserts, updates = [], []
    for index, run in enumerate(after.task_run_list):
        old = old_runs.get(run.id)
        if old is None:
            inserts.append(task_run_row(run, index))
        elif old[0] != index or (old[1] is not run and old[1] != run):
            updates.append(_by_id(task_run_row(run, index)))
    gone = set(old_runs) - {run.id for run in after.task_run_list}
    if gone:
        tx.execute(delete(task_runs).where(task_runs.c.id.in_(gone)))
    if updates:
        tx.execute(_UPDATE_RUN, updates)
    for start in range(0, len(inserts), _CHUNK):
        tx.execute(INSERT_RUNS, inserts[start:start + _CHUNK])
    execution_changed = _without_runs(before) != _without_runs(after)
    if execution_changed:
        _update_execution(tx, before, after)
    elif gone or updates or inserts:
        tx.execute(_RAISE_VERSION, {"_id": after.id})
    return SaveStats(execution_changed, len(inserts), len(updates), len(gone),
                     (*(str(row["_id"]) for row in updates), *gone))


def _update_execution(tx: Session, before: Execution, after: Execution) -> None:
    row = execution_row(after)
    tx.execute(_UPDATE_EXECUTION, {"_id": after.id, **{f"_{c}": row[c] for c in _EXECUTION_COLUMNS}})
    if before.labels != after.labels:
        tx.execute(delete(execution_labels).where(execution_labels.c.execution_id == after.id))
        insert_labels(tx, after)


def _by_id(row: dict[str, object]) -> dict[str, object]:
    # The WHERE parameter needs a name distinct from the SET columns (the keys of the row).
    values = dict(row)
    values["_id"] = values.pop("id")
    return values


def _without_runs(execution: Execution) -> Execution:
    return execution.model_copy(update={"task_run_list": ()})
