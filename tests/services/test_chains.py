"""Chains on real services (inline dispatcher): outputs travel link to link, a failing link stops
the rest with Kestra's counts, a kill in the middle, and the link protocol of ``run_task_run``."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import Settings
from engine.state import State
from tests.services.conftest import Engine, one_run, states


@pytest.fixture(params=[True, False], ids=["chained", "unchained"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    # Every case also runs with chains off (executor.chains: false): same outcomes, one hop per task.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, executor={"chains": request.param})


CHAINED_ONLY = pytest.mark.parametrize("settings", [True], indirect=True, ids=["chained"])


def test_chains_are_on_by_default() -> None:
    assert Settings().executor.chains is True


def returns(n: int) -> str:
    tasks = ["  - {id: t1, type: io.kestra.plugin.core.debug.Return, format: 'a'}"]
    tasks += [f"  - {{id: t{i}, type: io.kestra.plugin.core.debug.Return, format: '{{{{ outputs.t{i - 1}.value }}}}b'}}"
              for i in range(2, n + 1)]
    return "id: chain\nnamespace: tests.chains\ntasks:\n" + "\n".join(tasks) + "\n"


def test_twenty_chained_returns_each_render_the_previous_output(engine: Engine) -> None:
    execution = engine.run(returns(20))
    assert execution.state.current == State.SUCCESS
    assert len(execution.task_run_list) == 20
    assert one_run(execution, "t20").outputs == {"value": "a" + "b" * 19}


def test_a_failing_link_stops_the_rest_with_kestra_counts(engine: Engine) -> None:
    execution = engine.run("""
        id: failing
        namespace: tests.chains
        tasks:
          - {id: t1, type: io.kestra.plugin.core.debug.Return, format: one}
          - {id: t2, type: io.kestra.plugin.core.execution.Fail, errorMessage: boom}
          - {id: t3, type: io.kestra.plugin.core.debug.Return, format: three}
          - {id: t4, type: io.kestra.plugin.core.debug.Return, format: four}
        errors:
          - {id: handler, type: io.kestra.plugin.core.debug.Return, format: "{{ outputs.t1.value }}"}
    """)
    assert execution.state.current == State.FAILED
    assert states(execution) == {"t1": State.SUCCESS, "t2": State.FAILED, "handler": State.SUCCESS}
    assert len(execution.task_run_list) == 3


@CHAINED_ONLY
def test_kill_in_the_middle_of_a_chain(engine: Engine) -> None:
    holding = engine.hold("t3")
    execution = engine.run(returns(5))
    assert execution.state.current == State.RUNNING
    assert states(execution) == {"t1": State.SUCCESS, "t2": State.SUCCESS, "t3": State.CREATED,
                                 "t4": State.CREATED, "t5": State.CREATED}
    engine.services.kill(execution.id)
    engine.drain()
    holding.release()  # t3 finds the execution KILLING: reported KILLED, the chain stops there
    engine.drain()
    execution = engine.get(execution.id)
    assert execution.state.current == State.KILLED
    assert states(execution) == {"t1": State.SUCCESS, "t2": State.SUCCESS, "t3": State.KILLED}


@CHAINED_ONLY
def test_a_link_renders_with_carried_outputs_the_executor_has_not_recorded(engine: Engine) -> None:
    holding = engine.hold("t1")
    execution = engine.run(returns(3))
    flow = engine.services.flows.get(execution.namespace, execution.flow_id, execution.flow_revision)
    ref = engine.services.executions.commands.ref
    t1, t2 = one_run(execution, "t1"), one_run(execution, "t2")
    assert t1.state.current == State.CREATED  # the executor knows nothing of t1's result
    carried = {"runs": {t1.id: {"value": "x"}}}
    passed = engine.worker.run_task_run(ref(execution, flow, t2.id), carried)
    assert passed == {"runs": {t1.id: {"value": "x"}, t2.id: {"value": "xb"}}}
    engine.drain()
    assert one_run(engine.get(execution.id), "t2").outputs == {"value": "xb"}
    # a redelivered link whose attempt already ended SUCCESS is skipped but passes its outputs on
    again = engine.worker.run_task_run(ref(execution, flow, t2.id), carried)
    assert again == passed
    # a link of a killed execution is reported KILLED and stops the chain
    holding.held.clear()
    engine.services.kill(execution.id)
    engine.drain()
    assert engine.worker.run_task_run(ref(execution, flow, one_run(execution, "t3").id), passed) is False
