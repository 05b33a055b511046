"""L2 adapter: leader locks, so that a singleton process (the beat) runs once per database.

A lock is one ``leader_lock`` row: ``(name, holder, expires_at)``. :meth:`LeaderRepository.acquire`
is a single ``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE holder = me OR expires_at < now``
statement, atomic on SQLite and PostgreSQL alike: it takes a free or expired lock, renews one we
hold, and changes nothing when another live process holds it. The holder renews on every tick,
so when it dies another process takes over once the lease (a few seconds) has run out.

The lock is an optimisation, not the safety net: fire times are claimed with
``FiredRepository.claim`` anyway, so two beats that both believe they lead (a paused process
waking up after its lease expired) still never create a duplicate execution.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected, insert_for
from engine.persistence.tables import leader_lock


@dataclass(frozen=True)
class Leader:
    name: str
    holder: str
    expires_at: datetime
    acquired: datetime


class LeaderRepository(Repository):
    def acquire(self, name: str, holder: str, now: datetime, lease: timedelta, *,
                session: Session | None = None) -> bool:
        """Takes or renews lock ``name`` for ``holder`` until ``now + lease``; True if held."""
        table = leader_lock
        with self._tx(session) as tx:
            statement = insert_for(tx, table).values(name=name, holder=holder,
                                                     expires_at=now + lease, acquired=now)
            new = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.name],
                set_={"holder": new.holder, "expires_at": new.expires_at,
                      # A renewal keeps the original start, a takeover starts anew.
                      "acquired": case((table.c.holder == new.holder, table.c.acquired),
                                       else_=new.acquired)},
                where=(table.c.holder == new.holder) | (table.c.expires_at < now))
            return tx.execute(statement.returning(table.c.holder)).first() is not None

    def release(self, name: str, holder: str, *, session: Session | None = None) -> bool:
        """Gives the lock up (on a clean stop) so a standby takes over at once."""
        with self._tx(session) as tx:
            return affected(tx.execute(delete(leader_lock).where(
                leader_lock.c.name == name, leader_lock.c.holder == holder))) > 0

    def get(self, name: str, *, session: Session | None = None) -> Leader | None:
        with self._tx(session, write=False) as tx:
            row = tx.execute(select(leader_lock).where(leader_lock.c.name == name)).first()
        return Leader(row.name, row.holder, row.expires_at, row.acquired) if row else None
