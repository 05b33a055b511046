"""Real chains: the executor, real services and a Celery worker thread, on the embedded memory://
broker and on Redis. Outputs travel link to link without a round trip; a failing link stops the
rest with Kestra's counts; a kill in the middle keeps only the links that started."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli.embedded import EmbeddedRuntime, WorkerThread, register_tasks
from engine.model.execution import Execution
from engine.persistence.joins import JoinRepository
from engine.services import Services, build_services
from engine.settings import Settings
from engine.state import State
from messaging.celery_app import make_celery
from messaging.dispatch import CeleryDispatcher


def returns(n: int) -> str:
    tasks = ["  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: 'a'}"]
    tasks += [f"  - {{id: t{i}, type: io.kestra.plugin.core.debug.Return, format: '{{{{ outputs.t{i - 1}.value }}}}b'}}"
              for i in range(2, n + 1)]
    return "id: chain\nnamespace: tests.chains\ntasks:\n" + "\n".join(tasks) + "\n"


FAILING = """
id: failing
namespace: tests.chains
tasks:
  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: one}
  - {id: t2, type: io.kestra.plugin.core.execution.Fail, errorMessage: boom}
  - {id: t3, type: io.kestra.plugin.core.debug.Return, format: three}
  - {id: t4, type: io.kestra.plugin.core.debug.Return, format: four}
errors:
  - {id: handler, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.t1.value }}"}
"""

SLEEPY = """
id: sleepy
namespace: tests.chains
tasks:
  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: one}
  - {id: slow, type: io.kestra.plugin.core.flow.Sleep, duration: PT30S}
  - {id: t3, type: io.kestra.plugin.core.debug.Return, format: three}
  - {id: t4, type: io.kestra.plugin.core.debug.Return, format: four}
"""


def wait_until(services: Services, execution_id: str, done: Callable[[Execution], bool],
               timeout: float = 60) -> Execution:
    deadline = time.monotonic() + timeout
    while True:
        execution = services.get_execution(execution_id)
        if done(execution) or time.monotonic() > deadline:
            return execution
        time.sleep(0.01)


def ended(execution: Execution) -> bool:
    return execution.state.current.is_terminated


def states(execution: Execution) -> dict[str, State]:
    return {run.task_id: run.state.current for run in execution.task_run_list}


@pytest.fixture(params=["memory", "redis"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    if request.param == "memory":
        settings = Settings(data_dir=tmp_path / "data", broker_url="memory://",
                            worker={"concurrency": 4}, executor={"chains": True})
        with EmbeddedRuntime(settings, lambda d: build_services(settings, d), beat=False) as runtime:
            yield runtime.services
        return
    settings = Settings(data_dir=tmp_path / "data", broker_url=request.getfixturevalue("redis_url"),
                        executor={"chains": True})
    app = make_celery(settings)
    built = build_services(settings, CeleryDispatcher(app))
    register_tasks(app, lambda: built)
    with WorkerThread(app, ["executor", "default"], concurrency=4):
        yield built
    built.env.db.dispose()


def test_twenty_chained_returns_each_render_the_previous_output(services: Services) -> None:
    services.deploy_source(returns(20))
    execution = wait_until(services, services.start_execution("tests.chains", "chain").id, ended)
    assert execution.state.current == State.SUCCESS
    assert len(execution.task_run_list) == 20
    assert all(len(run.attempts) == 1 for run in execution.task_run_list)
    assert execution.task_run_list[-1].outputs == {"value": "a" + "b" * 19}


def test_a_failing_link_stops_the_rest(services: Services) -> None:
    services.deploy_source(FAILING)
    execution = wait_until(services, services.start_execution("tests.chains", "failing").id, ended)
    assert execution.state.current == State.FAILED
    assert states(execution) == {"t1": State.SUCCESS, "t2": State.FAILED, "handler": State.SUCCESS}
    assert len(execution.task_run_list) == 3


def test_kill_in_the_middle_of_a_chain(services: Services) -> None:
    services.deploy_source(SLEEPY)
    started = services.start_execution("tests.chains", "sleepy")

    def sleeping(execution: Execution) -> bool:
        return states(execution).get("slow") == State.RUNNING

    assert sleeping(wait_until(services, started.id, sleeping))
    services.kill(started.id)
    execution = wait_until(services, started.id, ended, timeout=25)
    assert execution.state.current == State.KILLED
    assert states(execution) == {"t1": State.SUCCESS, "slow": State.KILLED}


def wide(n: int, first: str = "") -> str:
    items = "".join(f"      - {{id: p{i}, type: io.kestra.plugin.core.debug.Return, format: v{i}}}\n" for i in range(n))
    return ("id: wide\nnamespace: tests.chains\ntasks:\n  - id: fan\n    type: io.kestra.plugin.core.flow.Parallel\n"
            f"    tasks:\n{first}{items}"
            "  - {id: join, type: io.kestra.plugin.core.debug.Return, format: joined}\n")


def test_a_wide_fan_out_goes_out_in_chunks_and_every_attempt_is_recorded_once(services: Services) -> None:
    services.deploy_source(wide(60))
    execution = wait_until(services, services.start_execution("tests.chains", "wide").id, ended)
    assert execution.state.current == State.SUCCESS
    items = [run for run in execution.task_run_list if run.task_id.startswith("p")]
    assert sorted(run.outputs["value"] for run in items) == sorted(f"v{i}" for i in range(60))
    assert all(len(run.attempts) == 1 for run in items)
    assert states(execution)["join"] == State.SUCCESS


def test_the_worker_ending_a_fan_out_runs_its_join_with_the_outputs_it_reads(services: Services) -> None:
    source = wide(12).replace("format: joined", "format: \"{{ outputs.p0.value }}-{{ outputs.p11.value }}\"")
    services.deploy_source(source)
    execution = wait_until(services, services.start_execution("tests.chains", "wide").id, ended)
    assert execution.state.current == State.SUCCESS
    join = next(run for run in execution.task_run_list if run.task_id == "join")
    assert join.outputs == {"value": "v0-v11"} and len(join.attempts) == 1
    # Counted down to zero by the chunks: the worker that wrote the last success claimed it.
    assert JoinRepository(services.env.db).remaining(join.id) == 0


def test_a_long_task_does_not_hold_back_the_siblings_of_its_chunk(services: Services) -> None:
    # p0 shares a chunk with the Sleep: the chunk gives p0 back while it sleeps.
    sleeper = "      - {id: slow, type: io.kestra.plugin.core.flow.Sleep, duration: PT6S}\n"
    services.deploy_source(wide(15, first=sleeper))
    execution = wait_until(services, services.start_execution("tests.chains", "wide").id, ended)
    assert execution.state.current == State.SUCCESS
    ends = {run.task_id: run.state.histories[-1].date for run in execution.task_run_list}
    assert all(ends[f"p{i}"] < ends["slow"] for i in range(15)), ends
