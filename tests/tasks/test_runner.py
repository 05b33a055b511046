"""run_task: states, error reporting, timeouts, kills, secret masking, not-implemented types."""
from __future__ import annotations

import base64
import logging
import threading

import pytest

from engine.model.task import LogLevel
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.debug import ReturnOptions
from engine.state import State
from engine.tasks.runner import run_task
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

LOG = "io.kestra.plugin.core.log.Log"
SLEEP = "io.kestra.plugin.core.flow.Sleep"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_not_implemented_type_fails_with_its_name(run: Run, world: World) -> None:
    outcome = run({"type": "io.kestra.plugin.core.namespace.UploadFiles", "namespace": "company"})
    assert outcome.state is State.FAILED
    assert outcome.error == "io.kestra.plugin.core.namespace.UploadFiles is not implemented yet in Podium"
    assert world.messages(LogLevel.ERROR) == [outcome.error]


def test_a_flow_s_error_is_one_line_without_traceback(run: Run, world: World) -> None:
    outcome = run({"type": LOG, "message": "{{ missing.variable }}"})
    assert outcome.state is State.FAILED
    assert outcome.error == "Unable to find `missing` used in the expression `{{ missing.variable }}`"
    assert world.messages(LogLevel.ERROR) == [outcome.error]
    assert not any("Traceback" in m for m in world.messages())


def _bug(options: ReturnOptions, ctx: object) -> None:
    raise KeyError("a plugin bug")


def test_an_unexpected_error_s_traceback_goes_to_the_process_log_at_debug(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    spec = PluginSpec(type="test.Bug", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation="tests.tasks.test_runner:_bug")
    with caplog.at_level(logging.DEBUG, logger="engine.tasks.runner"):
        outcome = run_task(spec, ReturnOptions(id="b", type="test.Bug"), world.context("b"))
    assert outcome.state is State.FAILED and outcome.error == "KeyError: 'a plugin bug'"
    assert not any("Traceback" in m for m in world.messages())
    traces = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("Traceback" in t and outcome.error in t for t in traces), (outcome.error, traces)


def test_log_level_of_the_task_drops_lower_levels(run: Run, world: World) -> None:
    run({"type": LOG, "message": "hidden", "level": "DEBUG", "logLevel": "INFO"})
    run({"type": LOG, "message": "shown", "level": "WARN", "logLevel": "INFO"})
    assert world.messages() == ["shown"]


def test_secrets_are_masked_in_logs_and_outputs(run: Run, world: World) -> None:
    world.environ["SECRET_API_TOKEN"] = _b64("s3cr3t-value")
    run({"type": LOG, "message": "token={{ secret('api_token') }}"})
    outcome = run({"type": "io.kestra.plugin.core.output.OutputValues",
                   "values": {"auth": "Bearer {{ secret('API_TOKEN') }}", "nested": ["x s3cr3t-value y"]}})
    assert world.messages() == ["token=******"]
    assert outcome.outputs == {"values": {"auth": "Bearer ******", "nested": ["x ****** y"]}}


def test_timeout_fails_the_task_and_stops_the_sleep(world: World) -> None:
    spec = world.registry.resolve(SLEEP)
    options = spec.options.model_validate({"id": "nap", "type": SLEEP, "duration": "PT60S", "timeout": "PT0.2S"})
    with world.context("nap") as ctx:
        outcome = run_task(spec, options, ctx)
        assert outcome.state is State.FAILED
        assert outcome.error == "Timeout after PT0.2S"
        assert ctx.cancel_event.is_set()  # the sleeping thread was told to stop
    assert world.messages(LogLevel.ERROR) == ["Timeout after PT0.2S"]


def test_kill_ends_a_sleep_as_killed(world: World) -> None:
    spec = world.registry.resolve(SLEEP)
    options = spec.options.model_validate({"id": "nap", "type": SLEEP, "duration": "PT60S"})
    ctx = world.context("nap")
    killer = threading.Timer(0.1, ctx.cancel_event.set)
    killer.start()
    outcome = run_task(spec, options, ctx)
    killer.join()
    assert outcome.state is State.KILLED


def test_a_task_may_end_in_warning(world: World) -> None:
    spec = PluginSpec(type="test.Warn", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation="tests.tasks.test_runner:_warn")
    outcome = run_task(spec, ReturnOptions(id="w", type="test.Warn"), world.context("w"))
    assert outcome.state is State.WARNING
    assert outcome.outputs == {"value": 1}
    assert world.messages(LogLevel.WARN) == ["half done"]


def test_outputs_are_made_json_ready(world: World) -> None:
    spec = PluginSpec(type="test.Dates", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation="tests.tasks.test_runner:_dates")
    outcome = run_task(spec, ReturnOptions(id="d", type="test.Dates"), world.context("d"))
    assert outcome.outputs == {"at": "2024-12-20T10:00:00+00:00", "ids": ["a"]}


def test_a_broken_implementation_path_fails_clearly(world: World) -> None:
    spec = PluginSpec(type="test.Broken", kind=PluginKind.RUNNABLE, options=ReturnOptions, title="t",
                      implementation="tests.tasks.nowhere:run")
    outcome = run_task(spec, ReturnOptions(id="b", type="test.Broken"), world.context("b"))
    assert outcome.state is State.FAILED
    assert (outcome.error or "").startswith("cannot load task implementation 'tests.tasks.nowhere:run'")


def _warn(options: ReturnOptions, ctx: object) -> object:
    from engine.tasks.outcome import TaskOutcome
    return TaskOutcome.warning({"value": 1}, "half done")


def _dates(options: ReturnOptions, ctx: object) -> dict[str, object]:
    from tests.tasks.helpers import FIXED_NOW
    return {"at": FIXED_NOW, "ids": ("a",)}
