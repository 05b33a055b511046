"""Production-mode benchmarks: Podium embedded and on Redis + PostgreSQL against raw Celery.

    .venv/bin/python bench/run.py [--quick] [--only W1,W3] [--modes embedded,redis-pg]
                                  [--size W1=3,5] [--no-reference] [--profile] [--profile-dir DIR] [--write | --no-write]

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
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report as perf_doc  # noqa: E402

from sqlalchemy import select  # noqa: E402

from engine.persistence.tables import executions  # noqa: E402
from engine.services import Services, build_services  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.state import State  # noqa: E402

try:
    import psutil
except ImportError:  # pragma: no cover - the RSS columns are then empty
    psutil = None

SECTION_START, SECTION_END = "<!-- production-bench:start -->", "<!-- production-bench:end -->"
PODIUM = str(Path(sys.executable).with_name("podium"))
WORKLOADS = ["W1", "W2", "W3", "W4", "FE"]
MODES = ["embedded", "redis-pg"]
TERMINATED = sorted(state.value for state in State if state.is_terminated)
BIG_ITEMS = 165669  # 'x'.join of 1..165669 (Pebble's range is inclusive): 1,048,577 characters
BIG = len("x".join(str(i) for i in range(1, BIG_ITEMS + 1)))
SUBMITTERS = 4

# Sizes above "big" run last in each mode, with "big_timeout": the executor's cost per event
# grows with the task runs of the execution (docs/performance.md), so they may not finish.
FULL: dict[str, Any] = {"W1": [10, 100, 500], "W2": [10, 100, 1000], "W3": [100, 1000], "paced_rate": 50,
                        "paced_seconds": 10, "FE": [100, 10000], "repeats": 3, "repeat_below": 100,
                        "timeout": 180, "big": 500, "big_timeout": 150}
BIG_LAST = ("W1", "W2", "FE")  # workloads whose sizes above "big" run last, with "big_timeout"
QUICK: dict[str, Any] = {"W1": [5, 20], "W2": [10, 50], "W3": [50], "paced_rate": 50, "paced_seconds": 3,
                         "FE": [100], "repeats": 1, "repeat_below": 0, "timeout": 60, "big": 500,
                         "big_timeout": 60}


# ------------------------------------------------------------------------------------ flows

def chain_flow(n: int) -> str:
    tasks = "".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: ok\n"
                    for i in range(n))
    return f"id: chain{n}\nnamespace: bench.w1\ntasks:\n{tasks}"


def parallel_flow(n: int) -> str:
    tasks = "".join(f"      - id: p{i}\n        type: io.kestra.plugin.core.debug.Return\n        format: ok\n"
                    for i in range(n))
    return (f"id: parallel{n}\nnamespace: bench.w2\ntasks:\n"
            f"  - id: fan\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{tasks}"
            f"  - id: join\n    type: io.kestra.plugin.core.debug.Return\n    format: joined\n")


ONE_TASK = """id: {flow_id}
namespace: {namespace}
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: ok
"""

BIG_FLOW = f"""id: big
namespace: bench.w4
tasks:
  - id: make
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ range(1, {BIG_ITEMS}) | join('x') }}}}"
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.make.value | length }}}}"
"""
BIG_CHECK = str(BIG)


def foreach_flow(n: int) -> str:
    values = json.dumps(list(range(n)))
    return (f"id: foreach{n}\nnamespace: bench.fe\ntasks:\n"
            f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: {values}\n"
            f"    concurrencyLimit: 0\n    tasks:\n"
            f"      - id: item\n        type: io.kestra.plugin.core.debug.Return\n"
            f"        format: \"{{{{ taskrun.value }}}}\"\n")


# ------------------------------------------------------------------------------------ modes

class BenchError(RuntimeError):
    pass


class PodiumMode:
    """What the workloads need from a running Podium: services to deploy and start executions,
    and the database to read when they ended."""

    name = ""
    services: Services

    extra_cpu: dict[str, list[int]] = {}

    def roles(self) -> dict[str, list[int]]:
        raise NotImplementedError

    def cpu_roles(self) -> dict[str, list[int]]:
        roles = dict(self.roles())
        if "embedded" not in roles:
            roles["this driver"] = [os.getpid()]
        return {**roles, **self.extra_cpu}

    def progress(self, execution_id: str) -> str:
        from sqlalchemy import func

        from engine.persistence.tables import task_runs
        query = (select(task_runs.c.state, func.count()).where(task_runs.c.execution_id == execution_id)
                 .group_by(task_runs.c.state))
        with self.services.env.db.engine.connect() as connection:
            counts = {str(getattr(state, "value", state)): n for state, n in connection.execute(query)}
        return ", ".join(f"{n:,} {state}" for state, n in sorted(counts.items())) or "no task runs"

    def recover(self, execution_id: str) -> None:
        """After a timeout: stop the execution so that it does not disturb what follows."""
        try:
            self.services.kill(execution_id)
        except Exception as err:  # noqa: BLE001
            print(f"  {self.name}: could not kill {execution_id}: {err}", flush=True)

    def replays(self) -> int:
        """Results the reaper had to send again, leases it reported expired (executor lag)."""
        return 0

    def close(self) -> None:
        raise NotImplementedError

    def deploy(self, source: str) -> None:
        self.services.deploy_source(source)

    def submit(self, namespace: str, flow_id: str) -> tuple[str, float]:
        at = time.time()
        return self.services.start_execution(namespace, flow_id).id, at

    def ended(self, ids: Iterable[str]) -> dict[str, tuple[str, float]]:
        """{id: (state, end timestamp)} of those of ``ids`` that ended."""
        ids = list(ids)
        found: dict[str, tuple[str, float]] = {}
        db = self.services.env.db
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            query = (select(executions.c.id, executions.c.state, executions.c.end_date)
                     .where(executions.c.id.in_(chunk)).where(executions.c.state.in_(TERMINATED)))
            with db.engine.connect() as connection:
                for row in connection.execute(query):
                    found[row.id] = (str(getattr(row.state, "value", row.state)), row.end_date.timestamp())
        return found

    def wait(self, ids: list[str], timeout: float, interval: float = 0.02) -> dict[str, tuple[str, float]]:
        deadline = time.monotonic() + timeout
        pending, done = set(ids), {}
        while pending:
            done.update(self.ended(pending))
            pending -= done.keys()
            if not pending:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"timeout: {len(pending)} of {len(ids)} execution(s) not ended after {timeout:.0f} s")
            time.sleep(interval if len(ids) < 50 else max(interval, 0.1))
        failed = Counter(state for state, _ in done.values() if state != "SUCCESS")
        if failed:
            raise BenchError(f"executions did not succeed: {dict(failed)}")
        return done

    def run_once(self, namespace: str, flow_id: str, timeout: float) -> float:
        execution_id, at = self.submit(namespace, flow_id)
        (_, end), = self.wait([execution_id], timeout).values()
        return end - at


class EmbeddedMode(PodiumMode):
    name = "embedded"

    def __init__(self, root: Path) -> None:
        from worker.embedded import EmbeddedRuntime

        import logging

        self._counter = _CountingHandler()
        reaper = logging.getLogger("podium.reaper")
        reaper.addHandler(self._counter)
        reaper.propagate = False
        settings = Settings(data_dir=root / "embedded", broker_url="memory://")
        self.runtime = EmbeddedRuntime(settings, lambda dispatcher: build_services(settings, dispatcher))
        self.runtime.start()
        self.services = self.runtime.services

    def roles(self) -> dict[str, list[int]]:
        return {"embedded": [os.getpid()]}

    def replays(self) -> int:
        return self._counter.count

    def close(self) -> None:
        try:
            self.runtime.stop()
        except RuntimeError as err:  # an executor event still running (the ForEach): reported, not fatal
            print(f"  embedded: {err}", flush=True)
        self.services.env.db.engine.dispose()


class _CountingHandler:
    """A logging handler that counts the reaper's warnings (printing them would flood the output)."""

    level = 0

    def __init__(self) -> None:
        self.count = 0

    def handle(self, record: Any) -> bool:
        self.count += 1
        return True


class RedisPgMode(PodiumMode):
    name = "redis-pg"

    def __init__(self, root: Path, redis_url: str, database: Callable[[], str]) -> None:
        self._start(root, redis_url, database)
        self.restarts = 0

    def recover(self, execution_id: str) -> None:
        """A fresh stack (processes, database, Redis queues): the executor may be busy for minutes."""
        import redis

        print("  redis-pg: restarting executor, worker and beat on a fresh database and Redis", flush=True)
        self.close()
        redis.Redis.from_url(self.redis_url).flushdb()
        self.restarts += 1
        self._start(self.base / f"restart{self.restarts}", self.redis_url, self.database)

    def _start(self, root: Path, redis_url: str, database: Callable[[], str]) -> None:
        self.base, self.redis_url, self.database = root, redis_url, database
        database_url = database()
        from worker.celery_app import make_celery
        from worker.dispatch import CeleryDispatcher

        self.root = root / "redis-pg"
        self.root.mkdir(parents=True)
        self.env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_BROKER_URL": redis_url,
                    "PODIUM_DATA_DIR": str(self.root), "PODIUM_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(ROOT)}
        settings = Settings(data_dir=self.root, database_url=database_url, broker_url=redis_url)
        self.services = build_services(settings, CeleryDispatcher(make_celery(settings)))  # migrates
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for role in ("executor", "worker", "beat"):
                log = open(self.root / f"{role}.log", "wb")  # noqa: SIM115 - closed with the process
                self.processes[role] = subprocess.Popen([PODIUM, role], cwd=ROOT, env=self.env, stdout=log,
                                                        stderr=subprocess.STDOUT)
            self.deploy(ONE_TASK.format(flow_id="warmup", namespace="bench.warmup"))
            began = time.monotonic()
            self.run_once("bench.warmup", "warmup", 120)
            print(f"  redis-pg: executor, worker, beat ready in {time.monotonic() - began:.1f} s", flush=True)
        except BaseException:
            self.close()
            raise

    def roles(self) -> dict[str, list[int]]:
        return {role: [process.pid] for role, process in self.processes.items() if process.poll() is None}

    def replays(self) -> int:
        text = (self.root / "beat.log").read_text(errors="replace") if (self.root / "beat.log").exists() else ""
        return text.count("not applied yet") + text.count("expired at")

    def check_alive(self) -> None:
        for role, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(f"podium {role} exited with {process.returncode}: "
                                 + _tail(self.root / f"{role}.log"))

    def wait(self, ids: list[str], timeout: float, interval: float = 0.02) -> dict[str, tuple[str, float]]:
        self.check_alive()
        return super().wait(ids, timeout, interval)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for role, process in self.processes.items():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.services.env.db.engine.dispose()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------ sampling

def cpu_seconds(roles: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds of each role's processes and their living children."""
    found: dict[str, float] = {}
    if psutil is None:
        return found
    for role, pids in roles.items():
        total = 0.0
        for pid in pids:
            try:
                process = psutil.Process(pid)
                family = process.children(recursive=True) if role in ("worker", "postgres") else []
                for each in [process, *family]:
                    times = each.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        found[role] = total
    return found


def cpu_rows(results: "Results", column: str, before: dict[str, float], after: dict[str, float], count: int,
             label: str) -> None:
    total = 0.0
    for role in before:
        used = (after.get(role, before[role]) - before[role]) * 1000 / count
        total += used
        results.row("CPU", f"{label}: {role}", "ms", ratio=False).values[column] = used
    results.row("CPU", f"{label}: total", "ms", ratio=True).values[column] = total


class Sampler:
    """Samples, every 0.25 s, the RSS of each role's processes (children included: a prefork
    worker's pool) and the load average; keeps the maxima."""

    def __init__(self) -> None:
        self.rss: dict[str, float] = {}        # role -> max RSS of one process, MB
        self.rss_total: dict[str, float] = {}  # role -> max RSS of the process and its children, MB
        self.load_max = 0.0
        self._roles: dict[str, list[int]] = {}
        self.source: Callable[[], dict[str, list[int]]] | None = None  # a mode's roles, asked each time
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def watch(self, roles: dict[str, list[int]]) -> None:
        with self._lock:
            self._roles.update(roles)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self.load_max = max(self.load_max, os.getloadavg()[0])
            if psutil is None:
                continue
            with self._lock:
                roles = dict(self._roles)
            source = self.source
            if source is not None:
                try:
                    roles.update(source())
                except Exception:  # noqa: BLE001 - a mode restarting
                    pass
            for role, pids in roles.items():
                sizes = []
                for pid in pids:
                    try:
                        process = psutil.Process(pid)
                        sizes.append(process.memory_info().rss)
                        if role in ("worker", "raw celery"):  # prefork pools
                            sizes += [child.memory_info().rss for child in process.children(recursive=True)]
                    except psutil.Error:
                        continue
                if sizes:
                    self.rss[role] = max(self.rss.get(role, 0.0), max(sizes) / 2**20)
                    self.rss_total[role] = max(self.rss_total.get(role, 0.0), sum(sizes) / 2**20)


# ------------------------------------------------------------------------------------ results

@dataclass
class Row:
    workload: str
    case: str
    unit: str                      # "s", "ms", "exec/s", "MB"
    values: dict[str, float | str] = field(default_factory=dict)   # mode or "raw celery" -> value
    higher_is_better: bool = False
    ratio: bool = True             # report mode / raw celery
    target: tuple[str, Callable[["Row"], bool | None]] | None = None  # (text, check on redis-pg)
    note: str = ""

    def add_note(self, text: str) -> None:
        self.note = f"{self.note}; {text}" if self.note else text

    def ratio_of(self, mode: str) -> float | None:
        podium, raw = self.values.get(mode), self.values.get("raw celery")
        if not self.ratio or not isinstance(podium, float) or not isinstance(raw, float) or raw <= 0:
            return None
        return podium / raw

    def verdict(self) -> str:
        if self.target is None:
            return ""
        try:
            met = self.target[1](self)
        except (TypeError, KeyError):
            met = None
        return "–" if met is None else ("met" if met else "MISSED")


def fmt(value: float | str | None, unit: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "exec/s":
        return f"{value:.0f}/s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ratio_at_most(limit: float) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        ratio = row.ratio_of("redis-pg")
        return None if ratio is None else ratio <= limit
    return check


def value_check(predicate: Callable[[float], bool]) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        value = row.values.get("redis-pg")
        return None if not isinstance(value, float) else predicate(value)
    return check


class Results:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.errors: list[str] = []

    def row(self, workload: str, case: str, unit: str, **options: Any) -> Row:
        note = options.pop("note", "")
        for row in self.rows:
            if row.workload == workload and row.case == case:
                for key, value in options.items():
                    if value is not None and value != "":
                        setattr(row, key, value)
                break
        else:
            row = Row(workload, case, unit, **options)
            self.rows.append(row)
        if note:
            row.add_note(note)
        return row

    def ordered(self) -> list[Row]:
        groups = ["W1", "W2", "W3", "CPU", "W4", "FE", "RSS"]
        return sorted(self.rows, key=lambda row: groups.index(row.workload) if row.workload in groups else 99)


# ------------------------------------------------------------------------------------ workloads

def repeats_for(config: dict[str, Any], n: int) -> int:
    return config["repeats"] if n <= config["repeat_below"] else 1


def podium_workloads(mode: PodiumMode, only: list[str], config: dict[str, Any], results: Results,
                     profiler: "Profiler | None") -> None:
    timeout = config["timeout"]

    def timed(row: Row, namespace: str, flow_id: str, n: int) -> None:
        limit = config["big_timeout"] if n > config["big"] else timeout
        times = []
        for _ in range(repeats_for(config, n)):
            execution_id, at = mode.submit(namespace, flow_id)
            try:
                (_, end), = mode.wait([execution_id], limit).values()
            except BenchError as err:
                row.values[mode.name] = "timeout" if "timeout" in str(err) else "failed"
                note = f"{mode.name}: {err}; task runs then: {mode.progress(execution_id)}"
                row.add_note(note)
                results.errors.append(f"{row.workload} {row.case}: {note}")
                mode.recover(execution_id)
                return
            times.append(end - at)
        row.values[mode.name] = statistics.median(times)

    def w1(sizes: list[int]) -> None:
        for n in sizes:
            mode.deploy(chain_flow(n))
            timed(results.row("W1", f"chain of {n}", "s", target=("≤ 2x raw chain", ratio_at_most(2.0))),
                  "bench.w1", f"chain{n}", n)

    def w2(sizes: list[int]) -> None:
        for n in sizes:
            mode.deploy(parallel_flow(n))
            timed(results.row("W2", f"{n} parallel + join", "s", target=("≤ 1.3x raw chord", ratio_at_most(1.3))),
                  "bench.w2", f"parallel{n}", n)

    def w3(_: Any = None) -> None:
        mode.deploy(ONE_TASK.format(flow_id="one", namespace="bench.w3"))
        for m in config["W3"]:
            largest = m == max(config["W3"])
            before = cpu_seconds(mode.cpu_roles())
            latencies, span, submitted = many(mode, m, timeout)
            if largest:
                cpu_rows(results, mode.name, before, cpu_seconds(mode.cpu_roles()), m,
                         f"W3 CPU per execution ({m} at once)")
            results.row("W3", f"{m} at once: throughput", "exec/s", higher_is_better=True,
                        target=("≥ 100/s", value_check(lambda v: v >= 100)) if largest else None,
                        note=f"{mode.name}: submission {submitted:.1f} s"
                        ).values[mode.name] = m / span
            results.row("W3", f"{m} at once: p50", "ms").values[mode.name] = pct(latencies, 0.5) * 1000
            results.row("W3", f"{m} at once: p95", "ms").values[mode.name] = pct(latencies, 0.95) * 1000
        rate, seconds = config["paced_rate"], config["paced_seconds"]
        latencies, _, _ = many(mode, int(rate * seconds), timeout, rate=rate)
        results.row("W3", f"paced {rate}/s ({seconds} s): p50", "ms",
                    target=("< 150 ms", value_check(lambda v: v < 150))).values[mode.name] = pct(latencies, 0.5) * 1000
        results.row("W3", f"paced {rate}/s ({seconds} s): p95", "ms").values[mode.name] = pct(latencies, 0.95) * 1000

    def w4(_: Any = None) -> None:
        mode.deploy(BIG_FLOW)
        times = []
        for _ in range(config["repeats"]):
            times.append(mode.run_once("bench.w4", "big", timeout))
        last = mode.services.executions.env.executions.list(namespace="bench.w4", flow_id="big", size=1,
                                                            with_task_runs=True).items[0]
        used = [run.outputs.get("value") for run in last.task_run_list if run.task_id == "use"]
        if used != [BIG_CHECK]:
            raise BenchError(f"the second task saw {used}, not a string of {BIG} characters")
        results.row("W4", f"{BIG:,}-character output to the next task", "s").values[mode.name] = statistics.median(times)

    def fe(sizes: list[int]) -> None:
        mode.deploy(ONE_TASK.format(flow_id="probe", namespace="bench.probe"))
        for n in sizes:
            mode.deploy(foreach_flow(n))
            foreach(mode, n, config["big_timeout"] if n > config["big"] else timeout, results)

    table = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "FE": fe}
    steps: list[tuple[str, list[int]]] = []
    for name in WORKLOADS:
        if name in only:  # W3 and W4 have no big pass: all their sizes run here
            sizes = config.get(name, [0])
            steps.append((name, [n for n in sizes if name not in BIG_LAST or n <= config["big"]]))
    for name in WORKLOADS:  # the big sizes last
        if name in only and name in BIG_LAST:
            big = [n for n in config[name] if n > config["big"]]
            if big:
                steps.append((name, big))
    for name, sizes in steps:
        if not sizes:
            continue
        began = time.monotonic()
        print(f"  {mode.name}: {name} {sizes}...", flush=True)
        try:
            if profiler is not None and name in profiler.workloads:
                with profiler.record(mode, f"{name}-{max(sizes)}"):
                    table[name](sizes)
            else:
                table[name](sizes)
        except BenchError as err:
            results.errors.append(f"{mode.name} {name}: {err}")
            print(f"  {mode.name}: {name} FAILED: {err}", flush=True)
        print(f"  {mode.name}: {name} done in {time.monotonic() - began:.1f} s", flush=True)


def many(mode: PodiumMode, m: int, timeout: float, rate: float | None = None) -> tuple[list[float], float, float]:
    """Latencies, seconds from the first submission to the last end, seconds of submission."""
    first = time.time()
    if rate is None:
        with ThreadPoolExecutor(SUBMITTERS) as pool:
            sent = list(pool.map(lambda _: mode.submit("bench.w3", "one"), range(m)))
    else:
        sent = []
        for i in range(m):
            delay = first + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent.append(mode.submit("bench.w3", "one"))
    submitted = time.time() - first
    ends = mode.wait([execution_id for execution_id, _ in sent], timeout + submitted, interval=0.1)
    latencies = [ends[execution_id][1] - at for execution_id, at in sent]
    return latencies, max(end for _, end in ends.values()) - first, submitted


def foreach(mode: PodiumMode, n: int, timeout: float, results: Results) -> None:
    """The ForEach of ``n`` items, with a probe execution every 2 s while it runs."""
    execution_id, at = mode.submit("bench.fe", f"foreach{n}")
    stop = threading.Event()
    probes: list[tuple[float | None, float | None]] = []  # (to RUNNING, to the end)

    def probe_loop() -> None:
        while not stop.wait(2.0):
            probe_id, sent = mode.submit("bench.probe", "probe")
            running = end = None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not stop.is_set():
                execution = mode.services.get_execution(probe_id)
                if running is None:
                    for history in execution.state.histories:
                        if history.state == State.RUNNING:
                            running = history.date.timestamp() - sent
                if execution.state.current.is_terminated:
                    end = execution.state.end_date.timestamp() - sent
                    break
                time.sleep(0.05)
            probes.append((running, end))

    prober = threading.Thread(target=probe_loop, daemon=True)
    prober.start()
    try:
        (_, end), = mode.wait([execution_id], timeout, interval=0.5).values()
        duration: float | str = end - at
    except BenchError as err:
        duration = "timeout" if "timeout" in str(err) else "failed"
        results.errors.append(f"{mode.name} FE {n:,}: {err}; task runs then: {mode.progress(execution_id)}")
    finally:
        stop.set()
        prober.join(timeout=10)
    progress = mode.progress(execution_id)
    if not isinstance(duration, float):
        mode.recover(execution_id)
    results.row("FE", f"ForEach of {n:,} items", "s", ratio=False, note=f"{mode.name}: task runs at the end: {progress}",
                target=("finishes", value_check(lambda v: True))).values[mode.name] = duration
    to_running = [p[0] for p in probes if p[0] is not None]
    to_end = [p[1] for p in probes if p[1] is not None]
    unfinished = sum(1 for p in probes if p[1] is None)
    note = f"{mode.name}: {len(probes)} probe(s)" + (f", {unfinished} unfinished when the ForEach ended (the "
                                                     "max is over the finished ones)" if unfinished else "")
    replays = mode.replays()
    if replays:
        note += f"; {replays} result replays / lease expiries by the reaper (executor lag)"
    results.row("FE", f"{n:,}: probe meanwhile: to RUNNING, max", "s", ratio=False
                ).values[mode.name] = max(to_running) if to_running else "–"
    results.row("FE", f"{n:,}: probe meanwhile: to end, max", "s", ratio=False, note=note,
                target=("≤ 5 s (responsive)", value_check(lambda v: v <= 5.0))
                ).values[mode.name] = max(to_end) if to_end else ("unfinished" if unfinished else "–")


def reference_workloads(app: Any, only: list[str], config: dict[str, Any], results: Results,
                        cpu_roles: dict[str, list[int]]) -> None:
    import bench.celery_ref as ref

    timeout = config["timeout"]
    name = "raw celery"
    print("  raw celery: reference...", flush=True)
    began = time.monotonic()
    ref.measure_chain(app, 3, timeout)  # warm-up
    if "W1" in only:
        for n in config["W1"]:
            times = [ref.measure_chain(app, n, timeout) for _ in range(repeats_for(config, n))]
            results.row("W1", f"chain of {n}", "s").values[name] = statistics.median(times)
    if "W2" in only:
        for n in config["W2"]:
            times = [ref.measure_chord(app, n, timeout) for _ in range(repeats_for(config, n))]
            results.row("W2", f"{n} parallel + join", "s").values[name] = statistics.median(times)
    if "W3" in only:
        for m in config["W3"]:
            before = cpu_seconds(cpu_roles)
            latencies, span, _ = ref.measure_many(app, m, timeout, SUBMITTERS)
            if m == max(config["W3"]):
                cpu_rows(results, name, before, cpu_seconds(cpu_roles), m, f"W3 CPU per execution ({m} at once)")
            results.row("W3", f"{m} at once: throughput", "exec/s", higher_is_better=True).values[name] = m / span
            results.row("W3", f"{m} at once: p50", "ms").values[name] = pct(latencies, 0.5) * 1000
            results.row("W3", f"{m} at once: p95", "ms").values[name] = pct(latencies, 0.95) * 1000
        rate, seconds = config["paced_rate"], config["paced_seconds"]
        latencies, _, _ = ref.measure_many(app, int(rate * seconds), timeout, rate=rate)
        results.row("W3", f"paced {rate}/s ({seconds} s): p50", "ms").values[name] = pct(latencies, 0.5) * 1000
        results.row("W3", f"paced {rate}/s ({seconds} s): p95", "ms").values[name] = pct(latencies, 0.95) * 1000
    if "W4" in only:
        times = [ref.measure_big(app, BIG, timeout) for _ in range(config["repeats"])]
        results.row("W4", f"{BIG:,}-character output to the next task", "s").values[name] = statistics.median(times)
    print(f"  raw celery: done in {time.monotonic() - began:.1f} s", flush=True)


# ------------------------------------------------------------------------------------ profiling

class Profiler:
    """py-spy records the redis-pg executor and each worker pool child during chosen workloads."""

    def __init__(self, folder: Path, workloads: list[str]) -> None:
        self.folder = folder
        self.workloads = workloads
        self.reports: dict[str, list[str]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def record(self, mode: PodiumMode, workload: str) -> Any:
        profiler = self

        class _Recording:
            def __enter__(self) -> None:
                self.started: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
                spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                targets = {role: pids[0] for role, pids in mode.roles().items() if role in ("executor", "embedded")}
                worker = mode.roles().get("worker")
                if worker and psutil is not None:
                    # Every pool child: a chain's links land on any of them.
                    for index, child in enumerate(psutil.Process(worker[0]).children()):
                        targets[f"worker-child-{index}"] = child.pid
                for role, pid in targets.items():
                    out = profiler.folder / f"{mode.name}-{workload}-{role}.txt"
                    process = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "50", "--format", "raw",
                                                "--output", str(out), "--nonblocking"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    self.started.append((role, out, process))

            def __exit__(self, *exc: Any) -> None:
                for role, out, process in self.started:
                    process.send_signal(2)  # SIGINT: py-spy writes its output and exits
                for role, out, process in self.started:
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                    profiler.reports[f"{mode.name} {workload} {role}"] = top_functions(out)

        return _Recording()


def top_functions(path: Path, count: int = 12) -> list[str]:
    """Inclusive and self share of the busiest frames of a py-spy ``raw`` (collapsed) file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ["(no profile)"]
    for line in lines:
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        weight = int(samples)
        frames = [frame.split(" (")[0] + " " + frame.split(" (")[1].split(":")[0].rsplit("/", 2)[-1].rstrip(")")
                  if " (" in frame else frame for frame in stack.split(";")]
        total += weight
        for frame in set(frames):
            inclusive[frame] += weight
        own[frames[-1]] += weight
    if not total:
        return ["(no samples)"]
    report = [f"{total} samples"]
    report += [f"incl {100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(count * 3)
               if not k.startswith(("<module>", "process_")) and "threading.py" not in k][:count]
    report += [f"self {100 * v / total:5.1f}%  {k}" for k, v in own.most_common(count)]
    return report


# ------------------------------------------------------------------------------------ machine

def machine() -> dict[str, str]:
    model = perf_doc.cpu_model()
    memory = f"{psutil.virtual_memory().total / 2**30:.1f} GiB" if psutil else "?"
    return {"cpus": str(os.cpu_count()), "cpu": model, "memory": memory,
            "load": ", ".join(f"{x:.1f}" for x in os.getloadavg())}


def versions() -> str:
    import celery
    import kombu
    import sqlalchemy

    found = [f"Python {platform.python_version()}", f"Celery {celery.__version__}", f"kombu {kombu.__version__}",
             f"SQLAlchemy {sqlalchemy.__version__}"]
    try:
        import redis
        found.append(f"redis-py {redis.__version__}")
        import psycopg
        found.append(f"psycopg {psycopg.__version__}")
    except ImportError:
        pass
    server = shutil.which("redis-server")
    if server:
        out = subprocess.run([server, "--version"], capture_output=True, text=True).stdout
        found.append("redis-server " + next((p[2:] for p in out.split() if p.startswith("v=")), "?"))
    from tests.servers import postgres_bin
    pg = postgres_bin()
    if pg is not None:
        out = subprocess.run([str(pg / "postgres"), "--version"], capture_output=True, text=True).stdout.split()
        found.append(f"PostgreSQL {out[2] if len(out) > 2 else '?'}")
    return ", ".join(found)


# ------------------------------------------------------------------------------------ output

def columns(modes: list[str]) -> list[str]:
    return [*modes, "raw celery", *[f"{mode} / raw" for mode in modes]]


def cells(row: Row, modes: list[str]) -> list[str]:
    out = [fmt(row.values.get(mode), row.unit) for mode in [*modes, "raw celery"]]
    for mode in modes:
        ratio = row.ratio_of(mode)
        out.append("–" if ratio is None else f"{ratio:.2f}x")
    return out


def print_table(results: Results, modes: list[str], rss: list[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Podium benchmarks (bench/run.py)")
    for header in ["workload", "case", *columns(modes), "target (redis-pg)", "verdict"]:
        table.add_column(header, justify="left" if header in ("workload", "case", "target (redis-pg)") else "right")
    for row in [*results.ordered(), *rss]:
        table.add_row(row.workload, row.case, *cells(row, modes), row.target[0] if row.target else "",
                      row.verdict())
    Console(width=200).print(table)
    for error in results.errors:
        print(f"error: {error}")


def markdown_table(results: Results, modes: list[str], rss: list[Row]) -> list[str]:
    headers = ["workload", "case", *columns(modes), "target (redis-pg)", "verdict", "note"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in [*results.ordered(), *rss]:
        lines.append("| " + " | ".join([row.workload, row.case, *cells(row, modes),
                                        row.target[0] if row.target else "", row.verdict(), row.note]) + " |")
    return lines


FINDINGS_FILE = Path(__file__).with_name("run_findings.md")
USAGE = ("Usage: `.venv/bin/python bench/run.py [--quick] [--only W1,W2,W3,W4,FE] [--modes embedded,redis-pg] "
         "[--size W1=3,5] [--no-reference] [--profile] [--profile-dir DIR] [--write | --no-write]`: it starts Redis, PostgreSQL and the "
         "Podium processes itself and stops them; a full run takes 6-18 min here, `--quick` 1-3 min (a quick run "
         "rewrites this section only with `--write`).")


def section(results: Results, modes: list[str], rss: list[Row], host: dict[str, str], load_end: str,
            load_max: float, args: argparse.Namespace, elapsed: float) -> str:
    busy = float(host["load"].split(", ")[0]) > 2 or load_max > 4
    lines = [SECTION_START, "## Production mode: Podium against raw Celery", "", USAGE, "",
             f"`.venv/bin/python bench/run.py{' --quick' if args.quick else ''}` "
             f"(modes: {', '.join(modes)}; workloads: {', '.join(args.only)}; {elapsed / 60:.1f} min). "
             "Embedded = the in-process runtime of `podium run` (memory:// broker, SQLite). redis-pg = "
             "`podium executor` + `podium worker` (prefork, 4 slots) + `podium beat` on a throwaway Redis and "
             "PostgreSQL (fsync off). Raw celery = bench/celery_ref.py, a prefork worker of 4 slots on the same "
             "Redis with a Redis result backend, late acks and prefetch 1 like Podium's workers. Times run from "
             "the wall clock just before submission to the execution's `end_date` (raw: the result's "
             "`date_done`); W1/W2 small sizes are the median of 3 runs, W3 submits from 4 threads. "
             "Ratios are Podium / raw Celery; targets apply to redis-pg on a 2-core machine.", "",
             *markdown_table(results, modes, rss), ""]
    lines.append(f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {host['cpus']} CPUs ({host['cpu']}), "
                 f"{host['memory']} RAM; load average {host['load']} at the start, {load_end} at the end, "
                 f"1-minute load up to {load_max:.1f} while measuring; {versions()}.")
    if busy:
        lines += ["", "**The machine was shared**: other agents were loading it while this ran (load average "
                      "above 2 on 2 cores before the run started, or above 4 during it; this benchmark's own "
                      "processes account for about 2), so every figure here is inflated by CPU contention, "
                      "Podium's more than raw Celery's (Podium does more CPU work per task): read the times as "
                      "upper bounds, and the CPU rows (CPU time per execution) as the load-independent figures."]
    if results.errors:
        lines += ["", f"{len(results.errors)} case(s) did not finish in time: see their notes."]
    if FINDINGS_FILE.exists():
        lines += ["", FINDINGS_FILE.read_text().strip()]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replaces this benchmark's section of docs/performance.md, keeping every other section."""
    perf_doc.write_section(SECTION_START, SECTION_END, text)


def rss_rows(samples: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for role, label in [("embedded", "embedded process (runtime + this driver)"), ("executor", "executor process"),
                        ("worker", "worker, largest process"), ("worker-total", "worker, main + pool children"),
                        ("beat", "beat process"), ("raw celery", "raw celery worker, largest process")]:
        if role not in samples:
            continue
        row = Row("RSS", label, "MB", ratio=False,
                  target=("< 250 MB", value_check(lambda v: v < 250)) if role in ("executor", "worker") else None)
        row.values.update(samples[role])
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 3 minutes)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads: " + ",".join(WORKLOADS))
    parser.add_argument("--modes", default=",".join(MODES), help="modes: " + ",".join(MODES))
    parser.add_argument("--size", action="append", default=[], metavar="W=N,N",
                        help="override the sizes of a workload, e.g. --size W1=3,5 (W1, W2, W3, FE)")
    parser.add_argument("--no-reference", action="store_true", help="skip raw Celery (no Redis needed for embedded)")
    parser.add_argument("--profile", action="store_true", help="py-spy the redis-pg executor/worker during W1, W2, W3, FE")
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
                except BaseException as err:  # noqa: BLE001 - pytest's skip is a BaseException
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
                                       lambda cluster=cluster: create_database(cluster))  # type: ignore[union-attr]
                    mode.extra_cpu = {"postgres": [postmaster_pid(cluster)], "redis": [redis.process.pid]}  # type: ignore[union-attr]
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


def keep_rss(sampler: Sampler, mode: str, samples: dict[str, dict[str, float]]) -> None:
    time.sleep(0.3)
    for role, value in sampler.rss.items():
        samples.setdefault(role, {})[mode] = value
    if "worker" in sampler.rss_total:
        samples.setdefault("worker-total", {})[mode] = sampler.rss_total["worker"]
    sampler.rss.clear()
    sampler.rss_total.clear()


def run_reference(redis_url: str, redis_pid: int, args: argparse.Namespace, results: Results, sampler: Sampler,
                  samples: dict[str, dict[str, float]], root: Path) -> None:
    import bench.celery_ref as ref

    concurrency = str(Settings().worker.concurrency)
    log = open(root / "celery-ref.log", "wb")  # noqa: SIM115
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
        print(f"raw celery FAILED: {err!r}\n{_tail(root / 'celery-ref.log')}", flush=True)
    finally:
        sampler.watch({"raw celery": []})
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


def postmaster_pid(cluster: Any) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


def create_database(cluster: Any) -> str:
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


if __name__ == "__main__":
    sys.exit(main())
