"""L1 pure core: what ``podium backfill status|list`` shows of one backfill, apart from the backfill
service so that listing backfills needs only the stored cursors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.model.trigger_key import TriggerKey
from engine.schedule.backfill_cursor import BackfillCursor


@dataclass(frozen=True)
class BackfillStatus:
    """A backfill's cursor, and the executions recorded for its window's fire times (made by
    this backfill, an earlier one or the schedule) with how many of them have ended."""

    key: TriggerKey
    cursor: BackfillCursor
    executions: int = 0
    finished_executions: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.key.namespace, "flowId": self.key.flow_id,
                "triggerId": self.key.trigger_id, "status": self.cursor.status,
                "done": self.cursor.done, "executions": self.executions,
                "finishedExecutions": self.finished_executions,
                **self.cursor.to_json()}


def backfill_statuses(states: list[tuple[TriggerKey, dict[str, Any] | None]]) -> list[BackfillStatus]:
    """Every stored backfill (active or not) of these (trigger, stored cursor) pairs, without the
    finished-execution counts."""
    return [BackfillStatus(key, BackfillCursor.load(cursor)) for key, cursor in states if cursor]
