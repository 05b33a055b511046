"""What a run of bench/run.py reports: the console table and the "Production mode" section of
docs/performance.md, with the machine and the versions measured on."""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench import report as perf_doc
from bench.results import Results, Row, fmt
from bench.sampler import psutil

SECTION_START, SECTION_END = "<!-- production-bench:start -->", "<!-- production-bench:end -->"


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
         "[--size W1=3,5] [--no-reference] [--profile] [--profile-dir DIR] [--write | --no-write]`: it starts "
         "Redis, PostgreSQL and the "
         "Podium processes itself and stops them; a full run takes 3-18 min here, `--quick` 1-3 min (a quick run "
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
    lines.append(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {host['cpus']} CPUs ({host['cpu']}), "
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
