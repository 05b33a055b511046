"""L2 adapter: join counters (docs/celery.md, "Joins").

The executor saves one with the step that dispatches a fan-out and creates the task after it; each
chunk of the fan-out counts its results down in the transaction that writes them. The UPDATE
takes the row's lock, so chunks ending together count one after the other and exactly one of
them sees zero.
"""
from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, upsert
from engine.persistence.tables import task_run_joins


class JoinRepository(Repository):
    def create(self, task_run_id: str, execution_id: str, children: int, *, session: Session) -> None:
        """The join ``task_run_id`` waits for ``children`` successes."""
        session.execute(upsert(session, task_run_joins, ("task_run_id",), ("remaining",)),
                        {"task_run_id": task_run_id, "execution_id": execution_id, "remaining": children})

    def count_down(self, task_run_id: str, succeeded: int, failed: bool, *, session: Session) -> bool:
        """Counts ``succeeded`` children down (or, ``failed``, gives up on the join); True when
        this brought the count to zero: the caller claims the join."""
        if failed:
            session.execute(_GIVE_UP, {"_id": task_run_id})
            return False
        row = session.execute(_COUNT_DOWN, {"_id": task_run_id, "_n": succeeded}).first()
        return row is not None and row.remaining == 0

    def remaining(self, task_run_id: str) -> int | None:
        """The count (None: given up or unknown), for tests and diagnostics."""
        with self.db.transaction(write=False) as tx:
            row = tx.execute(task_run_joins.select().where(task_run_joins.c.task_run_id == task_run_id)).first()
        return None if row is None else row.remaining


_GIVE_UP = update(task_run_joins).where(task_run_joins.c.task_run_id == bindparam("_id")).values(remaining=None)
_COUNT_DOWN = (update(task_run_joins)
               .where(task_run_joins.c.task_run_id == bindparam("_id"), task_run_joins.c.remaining.is_not(None))
               .values(remaining=task_run_joins.c.remaining - bindparam("_n"))
               .returning(task_run_joins.c.remaining))
