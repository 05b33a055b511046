"""Production-mode benchmarks: Podium embedded and on Redis + PostgreSQL against raw Celery.

    .venv/bin/python bench/run.py [--quick] [--only W1,W3] [--modes embedded,redis-pg]
                                  [--size W1=3,5] [--no-reference] [--profile] [--profile-dir DIR]
                                  [--write | --no-write]

Starts what it needs, measures, stops everything, prints a table and (full runs, or ``--write``)
rewrites the "Production mode" section of docs/performance.md (other sections are kept).

Modes:
- ``embedded``: the in-process runtime of ``podium run`` (executor + worker threads + beat in this
  process, ``memory://`` broker, SQLite in a temporary folder);
- ``redis-pg``: a throwaway Redis and PostgreSQL on free ports (tests/servers.py) and the
  ``podium executor``, ``podium worker`` (prefork, settings' concurrency) and ``podium beat``
  processes; this process only deploys flows, starts executions (as the web would) and reads the
  database;
- the reference, raw Celery on the same Redis (bench/celery_ref.py), a separate prefork worker
  process with the concurrency of Podium's worker and a Redis result backend.

Workloads (``--only``): W1 a chain of N no-op tasks (``debug.Return``); W2 a Parallel of N no-op
tasks then one task (raw: a chord); W3 M one-task executions submitted at once by 4 threads
(throughput, p50/p95 latency) and a paced 50 executions/s (p50/p95); W4 a 1 MB string returned
by one task and rendered by the next; FE a ForEach of 10,000 items (``concurrencyLimit: 0``) with
a probe execution submitted every 2 s meanwhile (its latency to RUNNING = the executor handled
its Start; to the end = the whole system). A latency is the execution's ``end_date`` written by
the executor (raw Celery: the result's ``date_done``) minus the wall time just before submission.
RSS of the executor, worker (each process; prefork children included) and embedded process is
sampled every 0.25 s with psutil; the maximum is reported.

``--profile`` (redis-pg) records the executor and each worker pool child with py-spy during W1, W2, W3 and
FE and prints the top functions (bench/profiles/ of the temporary folder; ``--profile-dir DIR``
keeps the raw collapsed stacks in DIR).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script (``python bench/run.py``), only bench/ is on sys.path: the repository's root
# must be too, for ``bench.*`` and Podium's packages.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report as perf_doc  # noqa: E402 - after the sys.path line above
from bench.modes import EmbeddedMode, PodiumMode, RedisPgMode, create_database, postmaster_pid, tail  # noqa: E402 - after the sys.path line above
from bench.profiler import Profiler  # noqa: E402 - after the sys.path line above
from bench.results import Results, rss_rows  # noqa: E402 - after the sys.path line above
from bench.sampler import Sampler, keep_rss  # noqa: E402 - after the sys.path line above
from bench.summary import machine, print_table, section, write_section  # noqa: E402 - after the sys.path line above
from bench.workloads import FULL, QUICK, WORKLOADS, podium_workloads, reference_workloads  # noqa: E402 - after the sys.path line above
from engine.settings import Settings  # noqa: E402 - after the sys.path line above

# This file is the command line and the run's order; the pieces live beside it: flows.py (the flows
# deployed), modes.py (Podium embedded / redis-pg and their processes), workloads.py (W1..W4, FE and
# the raw Celery reference's), sampler.py (CPU, RSS, load), results.py (rows, targets), profiler.py
# (py-spy), summary.py (the table and the docs/performance.md section).
MODES = ["embedded", "redis-pg"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 3 minutes)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads: " + ",".join(WORKLOADS))
    parser.add_argument("--modes", default=",".join(MODES), help="modes: " + ",".join(MODES))
    parser.add_argument("--size", action="append", default=[], metavar="W=N,N",
                        help="override the sizes of a workload, e.g. --size W1=3,5 (W1, W2, W3, FE)")
    parser.add_argument("--no-reference", action="store_true", help="skip raw Celery (no Redis needed for embedded)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the redis-pg executor/worker during W1, W2, W3, FE")
    parser.add_argument("--profile-dir", help="--profile, keeping py-spy's raw (collapsed) stacks in this folder")
    parser.add_argument("--write", action="store_true", help="rewrite the section of docs/performance.md (default: "
                        "full runs only)")
    parser.add_argument("--no-write", action="store_true", help="never touch docs/performance.md")
    args = parser.parse_args(argv)
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for name in args.only:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name}; choose from {', '.join(WORKLOADS)}")
    for name in args.modes:
        if name not in MODES:
            parser.error(f"unknown mode {name}; choose from {', '.join(MODES)}")
    config = dict(QUICK if args.quick else FULL)
    for item in args.size:
        key, _, sizes = item.partition("=")
        if key.upper() not in ("W1", "W2", "W3", "FE") or not sizes:
            parser.error(f"--size {item}: expected W1=N[,N...] (W1, W2, W3 or FE)")
        config[key.upper()] = [int(s) for s in sizes.split(",")]
    args.config = config
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.servers import start_postgres, start_redis

    host = machine()
    print(f"machine: {host['cpus']} CPUs ({host['cpu']}), {host['memory']}, load average {host['load']}", flush=True)
    started = time.monotonic()
    results = Results()
    samples: dict[str, dict[str, float]] = {}
    stack: list[Callable[[], None]] = []
    need_redis = "redis-pg" in args.modes or not args.no_reference
    reference = not args.no_reference and any(w in args.only for w in ("W1", "W2", "W3", "W4"))
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as folder, Sampler() as sampler:
        root = Path(folder)
        profiles = Path(args.profile_dir) if args.profile_dir else root / "profiles"
        profiler = Profiler(profiles, ["W1", "W2", "W3", "FE"]) if args.profile or args.profile_dir else None
        try:
            redis = None
            if need_redis:
                try:
                    redis = start_redis()
                except BaseException as err:  # pytest's skip is a BaseException
                    if "redis-pg" in args.modes:
                        raise
                    print(f"raw celery skipped: {err}", flush=True)
            if redis is not None:
                stack.append(redis.stop)
            if reference and redis is not None:
                run_reference(redis.url, redis.process.pid, args, results, sampler, samples, root)
            # redis-pg first: an embedded runtime that cannot stop (a stuck executor event) would
            # keep working in this process and disturb what follows.
            for mode_name in sorted(args.modes, key=lambda name: name != "redis-pg"):
                mode: PodiumMode
                if mode_name == "embedded":
                    print("embedded: starting", flush=True)
                    mode = EmbeddedMode(root)
                else:
                    print("redis-pg: starting PostgreSQL", flush=True)
                    cluster = start_postgres()
                    stack.append(cluster.stop)
                    # A separate Redis database: Podium's queues never meet the reference's.
                    mode = RedisPgMode(root, redis.url.rsplit("/", 1)[0] + "/1",
                                       lambda cluster=cluster: create_database(cluster))  # type: ignore[union-attr]  # set on this branch
                    mode.extra_cpu = {"postgres": [postmaster_pid(cluster)], "redis": [redis.process.pid]}  # type: ignore[union-attr]  # started above
                sampler.rss.clear()
                sampler.source = mode.roles
                try:
                    podium_workloads(mode, args.only, args.config, results, profiler)
                finally:
                    keep_rss(sampler, mode.name, samples)
                    sampler.source = None
                    mode.close()
        finally:
            for stop in reversed(stack):
                stop()
        load_max = sampler.load_max
    elapsed = time.monotonic() - started
    rss = rss_rows(samples)
    print_table(results, args.modes, rss)
    if profiler is not None:
        for name, report in profiler.reports.items():
            print(f"\nprofile {name}:\n  " + "\n  ".join(report))
    load_end = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end {load_end} (max 1-minute {load_max:.1f}); {elapsed / 60:.1f} min")
    if (args.write or not args.quick) and not args.no_write:
        write_section(section(results, args.modes, rss, host, load_end, load_max, args, elapsed))
        print(f"written to {perf_doc.DOC.relative_to(ROOT)}")
    return 1 if results.errors else 0



def run_reference(redis_url: str, redis_pid: int, args: argparse.Namespace, results: Results, sampler: Sampler,
                  samples: dict[str, dict[str, float]], root: Path) -> None:
    import bench.celery_ref as ref

    concurrency = str(Settings().worker.concurrency)
    log = open(root / "celery-ref.log", "wb")  # noqa: SIM115 - the worker writes to it until it stops
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("celery_ref.py")), redis_url, concurrency],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    app = ref.make_app(redis_url)
    try:
        sampler.rss.clear()
        sampler.watch({"raw celery": [worker.pid]})
        reference_workloads(app, args.only, args.config, results,
                            {"worker": [worker.pid], "redis": [redis_pid], "this driver": [os.getpid()]})
        keep_rss(sampler, "raw celery", samples)
    except Exception as err:  # noqa: BLE001 - the Podium modes still run
        results.errors.append(f"raw celery: {err!r}")
        print(f"raw celery FAILED: {err!r}\n{tail(root / 'celery-ref.log')}", flush=True)
    finally:
        # Results the driver never waited for (a chord's header) stay subscribed until collected,
        # which may be at exit, after Redis stopped: a traceback. Unsubscribed from here on.
        consumer = app.backend.result_consumer
        consumer.stop()
        consumer.subscribed_to.clear()
        sampler.watch({"raw celery": []})
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
