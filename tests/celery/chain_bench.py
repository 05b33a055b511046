"""Measures a flow of N consecutive no-op tasks against a raw Celery chain (a script, not a test).

    .venv/bin/python -m tests.celery.chain_bench [N ...]          # embedded memory:// broker
    PODIUM_BENCH_REDIS=redis://127.0.0.1:6379/0 .venv/bin/python -m tests.celery.chain_bench 10 100

1. Podium: an execution of a flow of N ``Return`` tasks (``format: ok``) on the embedded runtime
   (real services, SQLite), from ``start_execution`` until the execution is SUCCESS in the database.
2. Raw Celery: a ``chain`` of N no-op tasks on the same kind of broker, with a worker thread, from
   ``apply_async`` until the last link ran.

No timing is asserted; docs/executor.md records the numbers.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from celery import chain

from cli.embedded import EmbeddedRuntime, WorkerThread
from engine.services import build_services
from engine.settings import Settings
from messaging.celery_app import make_celery

RUNS = 3


def flow_source(n: int) -> str:
    tasks = "\n".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: ok"
                      for i in range(n))
    return f"id: chain{n}\nnamespace: bench\ntasks:\n{tasks}\n"


def podium_chain(n: int, root: Path) -> float:
    """Median seconds from start to SUCCESS of a flow of ``n`` no-op tasks (embedded memory://)."""
    settings = Settings(data_dir=root / f"data{n}", broker_url="memory://")
    with EmbeddedRuntime(settings, lambda dispatcher: build_services(settings, dispatcher), beat=False) as rt:
        services = rt.services
        services.deploy_source(flow_source(n))
        timings = []
        for _ in range(RUNS):
            began = time.perf_counter()
            execution = services.start_execution("bench", f"chain{n}")
            while not execution.state.current.is_terminated:
                time.sleep(0.002)
                execution = services.get_execution(execution.id)
            timings.append(time.perf_counter() - began)
            assert execution.state.current.value == "SUCCESS", execution.state.current
            assert len(execution.task_run_list) == n
        return statistics.median(timings)


def raw_chain(n: int, broker_url: str) -> float:
    """Median seconds of a raw Celery chain of ``n`` no-op tasks."""
    app = make_celery(Settings(broker_url=broker_url))
    done = threading.Event()

    @app.task(name="bench.noop", shared=False)
    def noop(last: bool = False) -> None:
        if last:
            done.set()

    timings = []
    with WorkerThread(app, ["bench"], concurrency=4):
        for _ in range(RUNS):
            done.clear()
            links = [noop.si().set(queue="bench") for _ in range(n - 1)]
            links.append(noop.si(last=True).set(queue="bench"))
            began = time.perf_counter()
            chain(*links).apply_async()
            assert done.wait(300)
            timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10, 100]
    redis = os.environ.get("PODIUM_BENCH_REDIS")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            podium = podium_chain(n, Path(tmp))
            raw = raw_chain(n, "memory://")
            print(f"N={n:4d} memory://  podium {podium * 1000:8.1f} ms   raw celery chain {raw * 1000:8.1f} ms"
                  f"   ratio {podium / raw:5.2f}")
            if redis:
                print(f"N={n:4d} redis      raw celery chain {raw_chain(n, redis) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
