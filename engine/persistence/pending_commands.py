"""L2 adapter: the executor's pending commands (docs/reliability.md, "Pending commands").

A row is written in the transaction of the executor step that issued the command and deleted
when the command is known done: in the transaction that applies its reply (``settle``), or after
it ran for a command without a reply (``drop``). Beat runs again the rows still here at
``replay_at`` (``due``), pushing ``replay_at`` forward first (``postpone``) so that two beats or
two rounds never run one twice at once; the executor pushes its own rows forward while it is
still carrying them out (``extend``).
"""
from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from engine.persistence.base import Repository, affected, upsert
from engine.persistence.tables import pending_commands


@dataclass(frozen=True)
class PendingCommand:
    id: str  # "<kind>:<what it is about>": the same command again replaces the row
    execution_id: str  # the execution whose step issued it
    kind: str
    payload: dict[str, Any]
    created: datetime
    replay_at: datetime


class PendingCommandRepository(Repository):
    def put(self, commands: Sequence[PendingCommand], *, session: Session) -> None:
        """Saves the commands with the step that issued them (the same id again replaces)."""
        if commands:
            session.execute(upsert(session, pending_commands, ("id",), _REPLACED),
                            [_row(command) for command in commands])

    def settle(self, command_id: str, *, session: Session) -> bool:
        """Deletes the command whose reply is being applied; False if it was not (or no longer) here."""
        return bool(affected(session.execute(_DELETE, {"_id": command_id})))

    def drop(self, command_ids: Sequence[str], *, session: Session | None = None) -> None:
        """Deletes commands that were carried out and expect no reply."""
        if command_ids:
            with self._tx(session) as tx:
                tx.execute(_DELETE, [{"_id": command_id} for command_id in command_ids])

    def extend(self, execution_id: str, until: datetime) -> int:
        """Pushes the execution's commands due before ``until`` to ``until``: the executor still
        carries them out (a ForEachItem creating thousands of children)."""
        with self.db.transaction() as tx:
            return affected(tx.execute(update(pending_commands).where(
                pending_commands.c.execution_id == execution_id, pending_commands.c.replay_at < until)
                .values(replay_at=until)))

    def due(self, now: datetime, *, limit: int = 500) -> builtins.list[PendingCommand]:
        query = (select(pending_commands).where(pending_commands.c.replay_at <= now)
                 .order_by(pending_commands.c.replay_at).limit(limit))
        with self.db.statement() as tx:
            return [_command(row) for row in tx.execute(query)]

    def postpone(self, command_id: str, now: datetime, until: datetime) -> bool:
        """Moves a due command to ``until``; False if it was settled or another beat took it."""
        with self.db.transaction() as tx:
            return bool(affected(tx.execute(
                update(pending_commands).where(pending_commands.c.id == command_id,
                                               pending_commands.c.replay_at <= now)
                .values(replay_at=until))))

    def list(self, execution_id: str | None = None) -> builtins.list[PendingCommand]:
        """The pending commands (of one execution), oldest first: for tests and diagnostics."""
        query = select(pending_commands).order_by(pending_commands.c.created, pending_commands.c.id)
        if execution_id is not None:
            query = query.where(pending_commands.c.execution_id == execution_id)
        with self.db.transaction(write=False) as tx:
            return [_command(row) for row in tx.execute(query)]


_DELETE = delete(pending_commands).where(pending_commands.c.id == bindparam("_id"))
_REPLACED = ("execution_id", "kind", "payload", "created", "replay_at")


def _row(command: PendingCommand) -> dict[str, Any]:
    return {"id": command.id, "execution_id": command.execution_id, "kind": command.kind,
            "payload": command.payload, "created": command.created, "replay_at": command.replay_at}


def _command(row: Any) -> PendingCommand:
    return PendingCommand(row.id, row.execution_id, row.kind, row.payload, row.created, row.replay_at)


__all__ = ["PendingCommand", "PendingCommandRepository"]
