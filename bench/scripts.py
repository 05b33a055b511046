"""Benchmark: what a script task costs over running its command by hand (Process runner).

    .venv/bin/python bench/scripts.py [--runs 30] [--no-write]

1. A no-op shell ``Commands`` task (``commands: [":"]``) run through ``run_task`` on a real
   RunContext (local storage in a temporary folder, the real renderer), against a bare
   ``subprocess.run(["/bin/sh", "-c", ":"])``: the median per run of each, and the difference
   (target: under 30 ms). The engine around a task run (executor, broker, database) is not in it:
   ``bench/run.py`` measures that for every task.
2. A Python ``Script`` with ``dependencies`` (a small wheel written here, no package index), in a
   fresh cache folder: the first run (the environment is built) against the second (cache hit).

The table, with the machine and the date, replaces the "Script tasks" section of docs/performance.md.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report as perf_doc  # noqa: E402 - after the sys.path line above
from engine.plugins.registry import default_registry  # noqa: E402 - after the sys.path line above
from engine.storage.local import LocalStorage  # noqa: E402 - after the sys.path line above
from engine.tasks.context import RunContext, RunIdentity  # noqa: E402 - after the sys.path line above
from engine.tasks.runner import run_task  # noqa: E402 - after the sys.path line above
from engine.tasks.script_runner import ScriptDefaults  # noqa: E402 - after the sys.path line above
from engine.templating import Renderer  # noqa: E402 - after the sys.path line above
from tests.tasks.test_script_dependencies import make_wheel  # noqa: E402 - after the sys.path line above

TARGET_MS = 30.0
SECTION_START, SECTION_END = "<!-- scripts-bench:start -->", "<!-- scripts-bench:end -->"
REGISTRY = default_registry()


def _context(storage: LocalStorage, n: int, cache: Path | None = None) -> RunContext:
    identity = RunIdentity("bench.scripts", "flow", "exec", "task", f"run{n}")
    return RunContext(identity=identity, variables={"flow": {"id": "flow", "namespace": "bench.scripts"}},
                      renderer=Renderer, storage=storage, log_sink=lambda entry: None,
                      clock=lambda: datetime.now(UTC), scripts=ScriptDefaults(cache_dir=cache))


def _run(task: dict[str, Any], storage: LocalStorage, n: int, cache: Path | None = None) -> float:
    spec = REGISTRY.resolve(task["type"])
    options = spec.options.model_validate({"id": "task", **task}, context={"registry": REGISTRY})
    started = time.perf_counter()
    with _context(storage, n, cache) as ctx:
        outcome = run_task(spec, options, ctx)
    elapsed = time.perf_counter() - started
    assert outcome.state.value == "SUCCESS", outcome.error
    return elapsed


def overhead(runs: int, folder: Path) -> dict[str, float]:
    storage = LocalStorage(folder / "storage")
    task = {"type": "io.kestra.plugin.scripts.shell.Commands", "commands": [":"]}
    _run(task, storage, -1)  # imports and the first thread out of the way
    bare, tasks = [], []
    for n in range(runs):
        started = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", ":"], check=True)
        bare.append(time.perf_counter() - started)
        tasks.append(_run(task, storage, n))
    return {"bare": statistics.median(bare) * 1000, "task": statistics.median(tasks) * 1000}


def dependency_cache(folder: Path) -> dict[str, float]:
    storage = LocalStorage(folder / "storage")
    wheel = make_wheel(folder)
    task = {"type": "io.kestra.plugin.scripts.python.Script", "dependencies": [str(wheel)],
            "script": "import tinypkg"}
    cache = folder / "cache"
    first = _run(task, storage, 0, cache)
    second = _run(task, storage, 1, cache)
    return {"first": first * 1000, "second": second * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each (median reported)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        machine = perf_doc.cpu_model()
        costs = overhead(args.runs, Path(folder))
        deps = dependency_cache(Path(folder))
    diff = costs["task"] - costs["bare"]
    lines = [SECTION_START, f"## Script tasks (issue 17), {datetime.now(UTC):%Y-%m-%d}", "",
             f"`bench/scripts.py --runs {args.runs}`, {machine}, Python {sys.version.split()[0]}; medians.", "",
             "| measure | ms |", "|---|---|",
             f"| bare `subprocess.run(['/bin/sh', '-c', ':'])` | {costs['bare']:.1f} |",
             f"| no-op shell `Commands` task, Process runner (`run_task`) | {costs['task']:.1f} |",
             f"| overhead per task run (target < {TARGET_MS:.0f} ms) | {diff:.1f} |",
             f"| Python `dependencies`, first run (environment built with uv) | {deps['first']:.0f} |",
             f"| Python `dependencies`, second run (cache hit) | {deps['second']:.0f} |", "",
             "The overhead is the working directory (created, removed), the output folder, the "
             "rendering of the commands, the two output reader threads and the task thread of "
             "`run_task`; the engine around a task run (executor, broker, database) is not in it.",
             SECTION_END]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        perf_doc.write_section(SECTION_START, SECTION_END, text)
        print(f"written to {perf_doc.DOC.relative_to(ROOT)}")
    return 0 if diff < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
