"""What bench/run.py samples from the processes it measures: CPU seconds, RSS and the load average."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - the RSS columns are then empty
    psutil = None


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

    def __enter__(self) -> Sampler:
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
                with contextlib.suppress(Exception):  # a mode restarting
                    roles.update(source())
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


def keep_rss(sampler: Sampler, mode: str, samples: dict[str, dict[str, float]]) -> None:
    time.sleep(0.3)
    for role, value in sampler.rss.items():
        samples.setdefault(role, {})[mode] = value
    if "worker" in sampler.rss_total:
        samples.setdefault("worker-total", {})[mode] = sampler.rss_total["worker"]
    sampler.rss.clear()
    sampler.rss_total.clear()
