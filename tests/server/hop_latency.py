"""Measures the broker hop latency behind docs/celery.md (a script, not a test: no timing is asserted).

    .venv/bin/python -m tests.server.hop_latency

1. ``EmbeddedRuntime`` ping-pong: 50 round trips executor -> worker -> executor (100 hops) on
   ``memory://`` and on ``podium-fs://``, with the fake services of tests/celery (broker cost only).
2. A real ``podium server local`` (podium-fs://): executions of a one-Log-task flow and of a flow
   of 10 Log tasks, started from this process through the server's broker, until SUCCESS in the
   database (services, SQLite and broker together).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from cli.embedded import EmbeddedRuntime
from engine.dispatch import TaskRunRef
from engine.services import build_services
from engine.settings import Settings
from messaging.celery_app import make_celery
from messaging.dispatch import CeleryDispatcher
from tests.celery.fakes import FakeServices
from tests.server.helpers import Server, log_flow, write_flow

ROUND_TRIPS = 50
RUNS = 20


def ref(attempt: int) -> TaskRunRef:
    return TaskRunRef(execution_id="e", task_run_id="p", attempt=attempt, task_id="t",
                      task_type="io.kestra.plugin.core.log.Log", flow="company.team.ping")


class PingPong(FakeServices):
    def run_task_run(self, r: TaskRunRef) -> None:
        super().run_task_run(r)
        assert self.dispatcher is not None
        self.dispatcher.send_event(r.execution_id, {"done": r.attempt})

    def handle_event(self, execution_id: str, event: dict) -> None:  # type: ignore[type-arg]
        super().handle_event(execution_id, event)
        if event["done"] < ROUND_TRIPS:
            assert self.dispatcher is not None
            self.dispatcher.dispatch_task_runs([ref(event["done"] + 1)])


def ping_pong(settings: Settings) -> float:
    """Milliseconds per hop."""
    with EmbeddedRuntime(settings, PingPong, beat=False) as runtime:
        began = time.perf_counter()
        runtime.dispatcher.dispatch_task_runs([ref(1)])
        runtime.services.wait_for("event", ROUND_TRIPS, timeout=120)  # type: ignore[attr-defined]
        return (time.perf_counter() - began) * 1000 / (2 * ROUND_TRIPS)


def server_runs(root: Path) -> dict[str, float]:
    """Median milliseconds from start_execution to SUCCESS on a real server local."""
    flows = root / "flows"
    flows.mkdir()
    write_flow(flows / "one.yaml", log_flow("one", "hi"))
    ten = "\n".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.log.Log\n    message: hi {i}"
                    for i in range(10))
    (flows / "ten.yaml").write_text(f"id: ten\nnamespace: company.team\ntasks:\n{ten}\n")
    server = Server(flows, root / "data", root)
    try:
        settings = Settings(data_dir=server.data)
        services = build_services(settings, CeleryDispatcher(make_celery(settings)), migrate=False)
        return {flow_id: statistics.median(_run(services, flow_id) for _ in range(RUNS)) for flow_id in ("one", "ten")}
    finally:
        server.interrupt()


def _run(services: object, flow_id: str) -> float:
    began = time.perf_counter()
    execution = services.start_execution("company.team", flow_id)  # type: ignore[attr-defined]
    while not execution.state.current.is_terminated:
        time.sleep(0.002)
        execution = services.get_execution(execution.id)  # type: ignore[attr-defined]
    assert execution.state.current.value == "SUCCESS", execution.state.current
    return (time.perf_counter() - began) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podium-hops-") as scratch:
        root = Path(scratch)
        memory = ping_pong(Settings(broker_url="memory://", data_dir=root / "m"))
        files = ping_pong(Settings(broker_url="podium-fs://", data_dir=root / "fs"))
        print(f"ping-pong, ms per hop: memory:// {memory:.1f}, podium-fs:// {files:.1f}")
        (root / "server").mkdir()
        for flow_id, ms in server_runs(root / "server").items():
            print(f"server local (podium-fs://), flow '{flow_id}': median {ms:.0f} ms from start to SUCCESS")


if __name__ == "__main__":
    main()
