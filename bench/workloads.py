"""The workloads of bench/run.py (W1..W4, FE), run on a Podium mode and on the raw Celery reference."""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.flows import BIG, BIG_CHECK, BIG_FLOW, ONE_TASK, chain_flow, foreach_flow, parallel_flow
from bench.modes import BenchError, PodiumMode
from bench.profiler import Profiler
from bench.results import Results, Row, cpu_rows, pct, ratio_at_most, value_check
from bench.sampler import cpu_seconds
from engine.state import State

WORKLOADS = ["W1", "W2", "W3", "W4", "FE"]
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


def repeats_for(config: dict[str, Any], n: int) -> int:
    return config["repeats"] if n <= config["repeat_below"] else 1


def podium_workloads(mode: PodiumMode, only: list[str], config: dict[str, Any], results: Results,
                     profiler: Profiler | None) -> None:
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
        row = results.row("W4", f"{BIG:,}-character output to the next task", "s")
        row.values[mode.name] = statistics.median(times)

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
    results.row("FE", f"ForEach of {n:,} items", "s", ratio=False,
                note=f"{mode.name}: task runs at the end: {progress}",
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
