"""``GET /metrics``: Prometheus text format, computed at scrape time (docs/operations.md).

One :class:`CollectorRegistry` per app (never prometheus_client's global default registry), holding
one collector that, at each scrape:

- counts executions by state with one ``GROUP BY`` (``podium_executions``, a gauge);
- sums the ``metric_rollups`` rows every executor and worker process writes per interval
  (``podium_task_run_duration_seconds``, ``podium_task_run_phase_seconds``,
  ``podium_executor_event_seconds``: histograms, cumulative since the first process started);
- reads the broker's queue depths (``podium_queue_messages``, a gauge).

A part that fails (database or broker down) is reported by ``podium_scrape_error`` instead of
failing the whole scrape.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from app.queues import QueueProbe
from engine.metrics import HELP, parse_labels
from engine.persistence.db import Database
from engine.persistence.metrics import MetricsRepository, Rollup
from engine.state import State

log = logging.getLogger("podium.web")


class PodiumCollector(Collector):
    def __init__(self, db: Database, queues: QueueProbe) -> None:
        self.repo = MetricsRepository(db)
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily("podium_scrape_error", "1 when a part of this scrape failed.",
                                   labels=["part"])
        for part, produce in (("executions", self._executions), ("rollups", self._rollups),
                              ("queues", self._queues)):
            try:
                metrics = list(produce())
            except Exception as err:  # noqa: BLE001 - one broken part must not hide the others
                log.warning("metrics: cannot collect %s: %s", part, err)
                errors.add_metric([part], 1)
                continue
            errors.add_metric([part], 0)
            yield from metrics
        yield errors

    def _executions(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("podium_executions", "Executions in each state (not deleted).", labels=["state"])
        counts = self.repo.executions_by_state()
        for state in State:  # every state, so that a dashboard's series never disappear
            gauge.add_metric([state.value], counts.get(state.value, 0))
        yield gauge

    def _rollups(self) -> Iterator[Metric]:
        families: dict[str, HistogramMetricFamily] = {}
        rollups = sorted(self.repo.totals(), key=lambda r: (r.name, r.labels))
        for rollup in rollups:
            labels = parse_labels(rollup.labels)
            family = families.get(rollup.name)
            if family is None:
                family = families[rollup.name] = HistogramMetricFamily(
                    rollup.name, HELP.get(rollup.name, rollup.name), labels=sorted(labels))
            family.add_metric([labels[key] for key in sorted(labels)], _cumulative(rollup), rollup.sum)
        yield from families.values()

    def _queues(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("podium_queue_messages", "Messages waiting in each broker queue.",
                                  labels=["queue"])
        for queue, depth in sorted(self.queues.depths().items()):
            gauge.add_metric([queue], depth)
        yield gauge


def _cumulative(rollup: Rollup) -> list[tuple[str, float]]:
    finite = sorted(((float(bound), count) for bound, count in rollup.buckets.items() if bound != "+Inf"))
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in finite:
        running += count
        buckets.append((_bound_label(bound), running))
    buckets.append(("+Inf", rollup.count))
    return buckets


def _bound_label(bound: float) -> str:
    return repr(bound)


def make_metrics_blueprint(db: Database, queues: QueueProbe) -> Blueprint:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PodiumCollector(db, queues))
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})

    return blueprint


__all__ = ["PodiumCollector", "make_metrics_blueprint"]
