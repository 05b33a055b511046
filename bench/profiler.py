"""py-spy profiles of the redis-pg executor and worker during chosen workloads (``--profile``)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.modes import PodiumMode
from bench.sampler import psutil


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
                for _, _, process in self.started:
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
