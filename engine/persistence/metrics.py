"""L2 adapter: the metric rollups of each process, and the aggregates /metrics reads at scrape time.

A process (executor, worker) upserts its own rows, keyed by ``source`` (host, pid and a random
suffix): absolute totals since it started, so a retried or repeated flush never counts twice.
The web process sums every source's rows; rows of processes that ended stay, so the sums only grow
(Prometheus counters and histograms must be monotonic).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from engine.persistence.base import Repository, insert_for
from engine.persistence.tables import executions, metric_rollups


@dataclass(frozen=True)
class Rollup:
    """One histogram series: ``buckets`` maps an upper bound ("0.5", "+Inf") to its count."""

    name: str
    labels: str
    buckets: dict[str, int]
    count: int
    sum: float


class MetricsRepository(Repository):
    def save(self, source: str, rollups: Iterable[Rollup], now: datetime) -> None:
        """Writes this source's current totals (insert or overwrite), in one transaction."""
        rows = [{"source": source, "name": r.name, "labels": r.labels, "buckets": r.buckets,
                 "count": r.count, "sum": r.sum, "updated": now} for r in rollups]
        if not rows:
            return
        with self.db.transaction() as tx:
            insert = insert_for(tx, metric_rollups)
            statement = insert.on_conflict_do_update(
                index_elements=["source", "name", "labels"],
                set_={"buckets": insert.excluded.buckets, "count": insert.excluded.count,
                      "sum": insert.excluded.sum, "updated": insert.excluded.updated})
            tx.execute(statement, rows)

    def totals(self) -> list[Rollup]:
        """Every series summed over all sources (past and present processes)."""
        merged: dict[tuple[str, str], Rollup] = {}
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(select(metric_rollups.c.name, metric_rollups.c.labels,
                                     metric_rollups.c.buckets, metric_rollups.c.count,
                                     metric_rollups.c.sum)).all()
        # Unpacked: a Row's ``count`` attribute is tuple.count, not the column.
        for name, labels, stored_buckets, count, total in rows:
            key = (name, labels)
            old = merged.get(key)
            buckets = dict(old.buckets) if old else {}
            for bound, in_bucket in (stored_buckets or {}).items():
                buckets[bound] = buckets.get(bound, 0) + int(in_bucket)
            merged[key] = Rollup(name, labels, buckets, (old.count if old else 0) + int(count),
                                 (old.sum if old else 0.0) + float(total))
        return list(merged.values())

    def executions_by_state(self) -> dict[str, int]:
        """How many (not deleted) executions are in each state: one GROUP BY on an indexed column."""
        query = (select(executions.c.state, func.count()).where(executions.c.deleted.is_(False))
                 .group_by(executions.c.state))
        with self.db.transaction(write=False) as tx:
            return {str(state): int(count) for state, count in tx.execute(query).all()}
