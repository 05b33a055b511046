"""Raw Celery, the reference of bench/run.py: no-op tasks on the same Redis as Podium.

    .venv/bin/python bench/celery_ref.py REDIS_URL CONCURRENCY     # the reference worker process

The worker runs in its own process with the prefork pool and Podium's worker concurrency, and the
settings Podium's workers use (late acks, prefetch 1, JSON); unlike Podium it has a Redis result
backend, which chords need and which tells when each task ended (``date_done``). bench/run.py
imports :func:`measure_*` to time, from this process, what Podium's workloads do:

- ``chain(noop.si() for ...)`` of N links (W1), until the last link's result is stored;
- ``chord(noop.si() for ...)(noop.si())`` of N (W2), until the callback's result is stored;
- M ``noop`` submitted at once (W3) and paced at a rate: each one's latency is its ``date_done``
  minus the wall time just before it was sent;
- ``chain(big.si(size), length.s())`` (W4): a 1 MB string returned by one task and taken by the next.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from celery import Celery, chain, chord

QUEUE = "bench_ref"


def make_app(redis_url: str) -> Celery:
    app = Celery("bench_ref", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True, worker_prefetch_multiplier=1, task_reject_on_worker_lost=True,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue=QUEUE, result_expires=3600, broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False, worker_send_task_events=False,
        broker_transport_options={"visibility_timeout": 43200},
    )

    @app.task(name="bench.noop", shared=False)
    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    @app.task(name="bench.big", shared=False)
    def big(size: int) -> str:
        return "x" * size

    @app.task(name="bench.length", shared=False)
    def length(value: str) -> int:
        return len(value)

    return app


def _date_done(result: Any) -> float:
    done = result.date_done
    if isinstance(done, str):
        done = datetime.fromisoformat(done)
    return done.timestamp()


def measure_chain(app: Celery, n: int, timeout: float) -> float:
    noop = app.tasks["bench.noop"]
    began = time.time()
    result = chain(*[noop.si() for _ in range(n)]).apply_async()
    result.get(timeout=timeout, interval=0.005)
    return _date_done(result) - began


def measure_chord(app: Celery, n: int, timeout: float) -> float:
    noop = app.tasks["bench.noop"]
    began = time.time()
    result = chord([noop.si() for _ in range(n)])(noop.si())
    result.get(timeout=timeout, interval=0.005)
    return _date_done(result) - began


def measure_big(app: Celery, size: int, timeout: float) -> float:
    began = time.time()
    result = chain(app.tasks["bench.big"].si(size), app.tasks["bench.length"].s()).apply_async()
    assert result.get(timeout=timeout, interval=0.005) == size
    return _date_done(result) - began


def measure_many(app: Celery, m: int, timeout: float, submitters: int = 4,
                 rate: float | None = None) -> tuple[list[float], float, float]:
    """(latencies, seconds from the first submission to the last end, submission seconds).

    ``rate`` None: ``m`` tasks at once from ``submitters`` threads; else one every 1/rate s."""
    noop = app.tasks["bench.noop"]
    sent: list[tuple[float, Any]] = []
    first = time.time()
    if rate is None:
        def send(_: int) -> tuple[float, Any]:
            at = time.time()
            return at, noop.apply_async()
        with ThreadPoolExecutor(submitters) as pool:
            sent = list(pool.map(send, range(m)))
    else:
        for i in range(m):
            delay = first + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent.append((time.time(), noop.apply_async()))
    submitted = time.time() - first
    deadline = time.monotonic() + timeout
    ends = []
    for _, result in sent:
        result.get(timeout=max(0.1, deadline - time.monotonic()), interval=0.005)
        ends.append(_date_done(result))
    latencies = [end - at for (at, _), end in zip(sent, ends, strict=True)]
    return latencies, max(ends) - first, submitted


def purge(app: Celery) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)


def main() -> None:
    url, concurrency = sys.argv[1], sys.argv[2]
    app = make_app(url)
    app.worker_main(["worker", "-Q", QUEUE, "-c", concurrency, "-P", "prefork", "-l", "WARNING",
                     "-n", f"bench-ref-{os.getpid()}@%h"])


if __name__ == "__main__":
    main()
