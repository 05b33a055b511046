"""How long `podium` commands take as whole processes: `podium --help`, `podium flow validate` of
one shipped flow, and the read-only commands (`execution list`, `execution show`, `triggers list`,
`kv list`) on a small SQLite instance (three runs of hello_world, the shipped flows with triggers
deployed, two KV keys) in a temporary folder. Each command runs N times after one warm-up; wall and CPU seconds (user +
system, from the kernel's accounting of the finished child) are printed as median and min.

    python bench/cli_startup.py                 # print only
    python bench/cli_startup.py --write         # and add the rows to docs/performance.md
    python bench/cli_startup.py --tree DIR --label before   # another checkout of Podium

Bytecode is cached (in the temporary folder) as it is for an installed package; the warm-up run
writes it. PODIUM_* variables are removed, so the commands see no configuration.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import DOC, DOC_HEADER, cpu_model

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- cli-startup-bench:start -->"
END = "<!-- cli-startup-bench:end -->"
SECTION_HEAD = f"""{START}
## CLI start-up (issue 20)

`bench/cli_startup.py`: each command as a whole process, N runs after one warm-up, bytecode cached,
no configuration; the read-only commands on a SQLite instance holding three executions, three
deployed flows (one with a Schedule trigger, one with a Flow trigger) and two KV keys. Target: under
0.5 s each. Seconds, median / min; CPU is user + system of the process. The machine is shared by
several sessions: the load average says how much the wall times are worth.

| date (UTC) | tree | command | wall median | wall min | CPU median | CPU min | runs | machine |
|---|---|---|---|---|---|---|---|---|
"""


@dataclass
class Timing:
    command: str
    walls: list[float]
    cpus: list[float]


def child_env(tree: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("PODIUM_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """One whole process: (wall seconds, CPU seconds); exits on a failed command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(python: str, tree: Path, runs: int) -> list[Timing]:
    with tempfile.TemporaryDirectory(prefix="podium-cli-bench-") as folder:
        work = Path(folder)
        env = child_env(tree, work / "pycache")
        podium = [python, "-m", "cli"]
        data = str(work / "data")
        flow = str(tree / "flows" / "hello_world.yaml")
        execution_id = small_instance(podium, tree, data, work, env)
        commands = {"podium --help": ["--help"],
                    "podium flow validate flows/hello_world.yaml": ["flow", "validate", flow],
                    "podium execution list": ["execution", "list", "--data-dir", data],
                    "podium execution show ID": ["execution", "show", execution_id, "--data-dir", data],
                    "podium triggers list": ["triggers", "list", "--data-dir", data],
                    "podium kv list dev": ["kv", "list", "dev", "--data-dir", data]}
        timings = []
        for name, args in commands.items():
            run_once([*podium, *args], work, env)  # warm-up: bytecode, file cache
            samples = [run_once([*podium, *args], work, env) for _ in range(runs)]
            timings.append(Timing(name, [w for w, _ in samples], [c for _, c in samples]))
        return timings


def small_instance(podium: list[str], tree: Path, data: str, work: Path, env: dict[str, str]) -> str:
    """Three finished executions of hello_world, the shipped flows with triggers deployed, two KV
    keys; the id of the last execution."""
    flows = tree / "flows"
    for _ in range(3):
        result = subprocess.run([*podium, "run", str(flows / "hello_world.yaml"), "--json", "--data-dir", data],
                                cwd=work, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            sys.exit(f"podium run exited {result.returncode}:\n{result.stderr[-2000:]}")
    run_once([*podium, "flow", "deploy", str(flows / "scheduled_report.yaml"), str(flows / "hello_world.yaml"),
              str(flows / "on_upstream_success.yaml"), "--data-dir", data], work, env)
    for key, value in (("greeting", "hello"), ("limits", '{"max": 3}')):
        run_once([*podium, "kv", "set", "dev", key, value, "--data-dir", data], work, env)
    execution_id: str = json.loads(result.stdout)["id"]
    return execution_id


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu_model()}), load {load}, "
            f"Python {sys.version.split()[0]}")


def rows(timings: list[Timing], label: str) -> list[str]:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    where = machine()
    return [f"| {date} | {label} | `{t.command}` | {statistics.median(t.walls):.2f} | {min(t.walls):.2f} | "
            f"{statistics.median(t.cpus):.2f} | {min(t.cpus):.2f} | {len(t.walls)} | {where} |"
            for t in timings]


def append_rows(lines: list[str]) -> None:
    """Adds the rows at the end of this benchmark's table (the section is created if absent)."""
    current = DOC.read_text() if DOC.exists() else DOC_HEADER
    if START not in current or END not in current:
        current = current.rstrip("\n") + "\n\n" + SECTION_HEAD + END + "\n"
    before, rest = current.split(END, 1)
    DOC.write_text(before.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + END + rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=7, help="counted runs of each command (default 7)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the Podium checkout to run (default: this one)")
    parser.add_argument("--label", default="", help="what the tree is, for the table (default: its commit)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter (default: this one)")
    parser.add_argument("--write", action="store_true", help="add the rows to docs/performance.md")
    args = parser.parse_args()
    tree = args.tree.resolve()
    label = args.label or _commit(tree)
    timings = measure(args.python, tree, args.runs)
    print(f"{machine()}; tree {tree} ({label})")
    for t in timings:
        print(f"{t.command:<45} wall median {statistics.median(t.walls):.3f} s, min {min(t.walls):.3f} s; "
              f"CPU median {statistics.median(t.cpus):.3f} s, min {min(t.cpus):.3f} s")
    if args.write:
        append_rows(rows(timings, label))
        print(f"added {len(timings)} rows to {DOC}")


def _commit(tree: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    return result.stdout.strip() or tree.name


if __name__ == "__main__":
    main()
