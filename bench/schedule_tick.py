"""One beat tick over 10,000 scheduled flows, on SQLite and PostgreSQL.

    .venv/bin/python bench/schedule_tick.py [--flows 10000] [--due 5] [--ticks 20] [--append]

Set-up (not timed): 10,000 flow revisions with a daily Schedule and their trigger_state rows
(next date tomorrow), plus ``--due`` flows deployed normally whose date has just come. Timed:
``Services.fire_schedules(now)`` on the first tick (fires the due ones: claims, executions,
state updates; cold: each flow is parsed once), the next day's tick (warm: parsed flows are
cached, the previous executions have ended) and on idle ticks (nothing due: one indexed query), and
a whole ``Beat.tick`` (timers, reaper, schedules). PostgreSQL is a throwaway cluster (tests/servers.py helpers).
``--append`` adds the table to docs/performance.md with the machine and the date.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from beat.loop import Beat  # noqa: E402 - after the sys.path line above
from cli.inline import InlineDispatcher  # noqa: E402 - after the sys.path line above
from engine.persistence.triggers import TriggerState  # noqa: E402 - after the sys.path line above
from engine.services import Services, build_services  # noqa: E402 - after the sys.path line above
from engine.settings import Settings  # noqa: E402 - after the sys.path line above

NOW = datetime(2025, 1, 6, 9, 0, 0, 200000, tzinfo=UTC)
SOURCE = """id: {flow_id}
namespace: bench.schedules
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "{cron}"
"""


def populate(services: Services, flows: int, due: int) -> None:
    """Idle flows are written straight to the repositories (deploying 10,000 through the parser
    only slows the set-up); the due ones are deployed for real."""
    env, later = services.env, NOW.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=2)
    with env.db.transaction() as session:
        for n in range(flows):
            flow_id = f"idle-{n:05d}"
            env.flows.save("bench.schedules", flow_id, SOURCE.format(flow_id=flow_id, cron="0 9 * * *"), NOW,
                           session=session)
            services.schedules.states.save(TriggerState("bench.schedules", flow_id, "daily", next_date=later,
                                                        data={"kind": "schedule"}), NOW, session=session)
    services.env.clock = lambda: NOW - timedelta(minutes=1)  # type: ignore[method-assign]  # a fixed clock
    for n in range(due):
        services.deploy_source(SOURCE.format(flow_id=f"due-{n}", cron="0 9 * * *"))
    services.env.clock = lambda: NOW  # type: ignore[method-assign]  # a fixed clock


def measure(url: str, flows: int, due: int, ticks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        services = build_services(Settings(data_dir=Path(tmp), database_url=url), InlineDispatcher(),
                                  clock=lambda: NOW)
        populate(services, flows, due)
        started = time.perf_counter()
        fired = services.fire_schedules(NOW)
        first = (time.perf_counter() - started) * 1000
        assert fired == due, f"expected {due} executions, got {fired}"
        services.env.dispatcher.drain()  # type: ignore[attr-defined]  # end them: no overlap
        tomorrow = NOW + timedelta(days=1)
        started = time.perf_counter()
        again = services.fire_schedules(tomorrow)
        warm = (time.perf_counter() - started) * 1000
        assert again == due, f"expected {due} executions the next day, got {again}"
        idle = []
        for _ in range(ticks):
            started = time.perf_counter()
            services.fire_schedules(tomorrow + timedelta(seconds=1))
            idle.append((time.perf_counter() - started) * 1000)
        beat = Beat(services)
        whole = []
        for _ in range(ticks):
            started = time.perf_counter()
            beat.tick(tomorrow + timedelta(seconds=2))
            whole.append((time.perf_counter() - started) * 1000)
        services.env.db.dispose()
    return {"first": first, "warm": warm, "idle": statistics.median(idle), "idle_max": max(idle),
            "beat": statistics.median(whole)}


def table(results: dict[str, dict[str, float]], flows: int, due: int) -> str:
    lines = [f"| database | tick firing {due} of {flows:,}, cold / warm (ms) | idle tick, median / max (ms) "
             "| whole Beat.tick, median (ms) |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['first']:.1f} / {r['warm']:.1f} | {r['idle']:.1f} / {r['idle_max']:.1f} "
                     f"| {r['beat']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--append", action="store_true", help="append the result to docs/performance.md")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.db", args.flows, args.due, args.ticks)
    from tests.servers import start_postgres

    cluster = start_postgres()
    try:
        results["PostgreSQL"] = measure(cluster.url(), args.flows, args.due, args.ticks)
    finally:
        cluster.stop()
    text = table(results, args.flows, args.due)
    print(text)
    if args.append:
        append(text)
    return 0


def append(text: str) -> None:
    path = ROOT / "docs" / "performance.md"
    if not path.exists():
        path.write_text("# Performance\n\nMeasured results of the scripts in bench/, newest last.\n")
    machine = f"{platform.node()}, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    with path.open("a") as out:
        out.write(f"\n## Schedule tick ({stamp}, {machine})\n\n`.venv/bin/python bench/schedule_tick.py`: "
                  "one beat tick over 10,000 scheduled flows (target: under 100 ms).\n\n" + text + "\n")


if __name__ == "__main__":
    sys.exit(main())
