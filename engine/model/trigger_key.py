"""L1 pure core: the key of one trigger of one flow, shared by Flow trigger windows and backfills.

It reads two ways, each where it reads best: ``describe()`` for the Flow trigger logs
(``company.team.flow trigger t``), ``str()`` for the backfill errors (``trigger t of flow
company.team.flow``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerKey:
    namespace: str
    flow_id: str
    trigger_id: str

    def describe(self) -> str:
        return f"{self.namespace}.{self.flow_id} trigger {self.trigger_id}"

    def __str__(self) -> str:
        return f"trigger {self.trigger_id} of flow {self.namespace}.{self.flow_id}"
