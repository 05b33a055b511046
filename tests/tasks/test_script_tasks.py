"""Script tasks on the Process runner, with real sh, python and node processes.

Each test runs a task through ``run_task`` on a real RunContext (tests/tasks/helpers.py): the
protocol lines, the exit code, files in and out, the script's environment, kills and timeouts.
Waits are deadlines meant to catch a hang, never speed assertions.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.model.task import LogLevel
from engine.state import State
from engine.storage import uris
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import run_task
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

SHELL = "io.kestra.plugin.scripts.shell.Commands"
SHELL_SCRIPT = "io.kestra.plugin.scripts.shell.Script"
PYTHON = "io.kestra.plugin.scripts.python.Script"
NODE = "io.kestra.plugin.scripts.node.Script"
PROCESS = {"type": "io.kestra.plugin.core.runner.Process"}


def test_protocol_lines_give_outputs_metrics_and_logs(run: Run, world: World) -> None:
    outcome = run({"type": PYTHON, "taskRunner": PROCESS, "script": "\n".join([
        "import sys",
        "print('plain line')",
        "print('oops', file=sys.stderr)",
        "print('::{\"outputs\": {\"rows\": 3, \"name\": \"a\"}}::')",
        "print('::{\"outputs\":{\"more\":true}}::', file=sys.stderr)",
        "print('::{\"metrics\":[{\"name\":\"rows\",\"type\":\"counter\",\"value\":3,\"tags\":{\"k\":\"v\"}}]}::')",
        "print('::{\"metrics\":[{\"name\":\"load\",\"type\":\"timer\",\"value\":\"PT1.5S\",\"tags\":{}},"
        "{\"name\":\"t2\",\"type\":\"timer\",\"value\":2}]}::')",
        "print('::{\"logs\":[{\"level\":\"WARN\",\"message\":\"careful\"},{\"level\":\"DEBUG\",\"message\":\"d\"}]}::')",
        "print('::{not json}::')",
    ])})
    assert outcome.state is State.SUCCESS, world.messages()
    assert outcome.outputs == {"vars": {"rows": 3, "name": "a", "more": True}, "exitCode": 0, "outputFiles": {}}
    assert [(m.name, m.type, m.value, dict(m.tags)) for m in outcome.metrics] == [
        ("rows", "counter", 3.0, {"k": "v"}), ("load", "timer", 1.5, {}), ("t2", "timer", 2.0, {})]
    logs = [(log.level, log.message) for log in world.logs]
    assert (LogLevel.INFO, "plain line") in logs
    assert (LogLevel.ERROR, "oops") in logs
    assert (LogLevel.WARN, "careful") in logs and (LogLevel.DEBUG, "d") in logs
    assert any(level is LogLevel.WARN and message.startswith("Invalid outputs '::{not json}::'")
               for level, message in logs)


def test_exit_code_decides_and_is_in_the_message(run: Run, world: World) -> None:
    outcome = run({"type": SHELL, "commands": ["echo before >&2", "exit 3"]})
    assert outcome.state is State.FAILED
    assert outcome.error == "Command failed with exit code 3"
    # stderr alone never fails nor warns (warningOnStdErr is accepted and ignored, as Kestra 0.23+)
    quiet = run({"type": SHELL, "warningOnStdErr": True, "commands": ["echo only a warning >&2"]})
    assert quiet.state is State.SUCCESS


def test_fail_fast_stops_at_the_first_failing_command(run: Run, world: World) -> None:
    assert run({"type": SHELL, "commands": ["false", "echo reached"]}).state is State.FAILED
    assert "reached" not in world.messages()
    outcome = run({"type": SHELL, "failFast": False, "commands": ["false", "echo reached"]})
    assert outcome.state is State.SUCCESS and "reached" in world.messages()


def test_before_commands_interpreter_and_shell_script(run: Run, world: World) -> None:
    outcome = run({"type": SHELL_SCRIPT, "beforeCommands": ["X=from-before"],
                   "script": "echo \"$X\"\necho second"})
    assert outcome.state is State.SUCCESS
    assert world.messages(LogLevel.INFO)[:2] == ["from-before", "second"]
    bash = run({"type": SHELL, "interpreter": ["/bin/bash", "-c"], "commands": ["echo ${BASH_VERSION:+bash}"]})
    assert bash.state is State.SUCCESS and "bash" in world.messages()


def test_node_script(run: Run, world: World) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: scripts/install-services.sh installs it")
    outcome = run({"type": NODE, "script": "console.log('hi ' + (1 + 1));\n"
                                           "console.log('::' + JSON.stringify({outputs: {n: 42}}) + '::');"})
    assert outcome.state is State.SUCCESS, world.messages()
    assert outcome.outputs["vars"] == {"n": 42} and "hi 2" in world.messages()


def test_output_files_and_output_dir(run: Run, world: World) -> None:
    outcome = run({"type": SHELL, "outputFiles": ["*.csv", "sub/**/*.txt"], "commands": [
        "printf 'a,b\\n1,2\\n' > out.csv", "mkdir -p sub/deep && echo t > sub/deep/x.txt",
        "echo ignored > other.log", "echo kept > {{ outputDir }}/report.txt",
        "test \"$OUTPUT_DIR\" = \"{{ outputDir }}\" && test \"$WORKING_DIR\" = \"$(pwd)\""]})
    assert outcome.state is State.SUCCESS, world.messages()
    files = outcome.outputs["outputFiles"]
    assert sorted(files) == ["out.csv", "report.txt", "sub/deep/x.txt"]
    assert world.storage.get(files["out.csv"]) == b"a,b\n1,2\n"
    assert world.storage.get(files["report.txt"]) == b"kept\n"


def test_input_files_inline_and_by_uri(run: Run, world: World) -> None:
    mine = world.storage.put(uris.task_output_uri("company.team", "flow", "exec1", "t", "r", "in.txt"), b"stored")
    world.storage.put(uris.namespace_file_uri("company.team", "conf/app.ini"), b"[app]")
    outcome = run({"type": SHELL, "inputFiles": {"a/inline.txt": "hello {{ flow.id }}", "copy.txt": mine,
                                                  "ns.ini": "nsfile:///conf/app.ini"},
                   "commands": ["cat a/inline.txt copy.txt ns.ini"]})
    assert outcome.state is State.SUCCESS, world.messages()
    assert world.messages(LogLevel.INFO)[0] == "hello flowstored[app]"


def test_input_files_refused(run: Run, world: World) -> None:
    other = world.storage.put(uris.task_output_uri("other.team", "flow", "other", "t", "r", "x"), b"no")
    refused = run({"type": SHELL, "inputFiles": {"x": other}, "commands": ["cat x"]})
    assert refused.state is State.FAILED and "cannot read" in (refused.error or "")
    escaping = run({"type": SHELL, "inputFiles": {"../evil": "x"}, "commands": ["true"]})
    assert escaping.state is State.FAILED
    assert "inputFiles: '../evil' must be a relative path" in (escaping.error or "")


def test_namespace_files_with_include_and_exclude(run: Run, world: World) -> None:
    for path in ("scripts/a.py", "scripts/b.sql", "readme.md"):
        world.storage.put(uris.namespace_file_uri("company.team", path), path.encode())
    outcome = run({"type": SHELL, "namespaceFiles": {"enabled": True, "include": ["scripts/*"],
                                                      "exclude": ["*.sql"]},
                   "commands": ["find . -type f -not -name 'script-*' | sort"]})
    assert outcome.state is State.SUCCESS
    assert [m for m in world.messages(LogLevel.INFO) if not m.startswith("./outputs-")] == ["./scripts/a.py"]
    other = run({"type": SHELL, "namespaceFiles": {"namespaces": ["other.team"]}, "commands": ["true"]})
    assert other.state is State.FAILED and "not of 'other.team'" in (other.error or "")


def test_internal_uris_in_commands_are_downloaded(run: Run, world: World) -> None:
    uri = world.storage.put(uris.task_output_uri("company.team", "flow", "exec1", "t", "r", "data.csv"), b"x,y")
    outcome = run({"type": SHELL, "commands": ["cat {{ file }}", "echo {{ file }}", "ls"]}, variables={"file": uri})
    assert outcome.state is State.SUCCESS, world.messages()
    lines = world.messages(LogLevel.INFO)
    # the file has no newline: its text and the echoed local path share a line; it is downloaded once
    assert lines[0].startswith("x,y/") and lines[0].endswith("/data.csv")
    assert "data.csv" in lines and "1-data.csv" not in lines


def test_environment_is_declared_plus_minimal_base(run: Run, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_DATABASE_URL", "postgresql://u:p@db/podium")
    monkeypatch.setenv("SECRET_TOKEN", "c2VjcmV0LXZhbHVlLTEyMw==")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    world.environ["SECRET_API"] = "dG9wLXNlY3JldC10b2tlbi12YWx1ZQ=="  # top-secret-token-value
    outcome = run({"type": SHELL, "env": {"GREETING": "hi", "API": "{{ secret('API') }}"},
                   "commands": ["env | cut -d= -f1 | sort", "echo key is $API"]})
    assert outcome.state is State.SUCCESS
    names = set(world.messages(LogLevel.INFO)[:-1])
    assert {"GREETING", "API", "WORKING_DIR", "OUTPUT_DIR", "PATH"} <= names
    assert not names & {"PODIUM_DATABASE_URL", "SECRET_TOKEN", "AWS_SECRET_ACCESS_KEY"}
    assert names <= {"GREETING", "API", "WORKING_DIR", "OUTPUT_DIR", "PATH", "HOME", "LANG", "LC_ALL",
                     "LC_CTYPE", "TZ", "TMPDIR", "PWD", "SHLVL", "_"}
    assert world.messages(LogLevel.INFO)[-1] == "key is ******"


def test_lines_are_logged_while_the_script_runs(world: World) -> None:
    """The script waits for a file the test writes only once it has seen the script's first line."""
    go = world.storage.root / "go"  # type: ignore[attr-defined] - LocalStorage's folder
    ctx = world.context("live")
    spec = world.registry.resolve(SHELL)
    options = spec.options.model_validate({"id": "live", "type": SHELL, "commands": [
        "echo first", f"while [ ! -e '{go}' ]; do sleep 0.05; done", "echo second"]})
    outcome = _in_thread(lambda: run_task(spec, options, ctx))
    _wait_until(lambda: "first" in world.messages())
    go.touch()
    assert outcome().state is State.SUCCESS and world.messages(LogLevel.INFO) == ["first", "second"]


@pytest.mark.parametrize("how", ["kill", "timeout"])
def test_kill_and_timeout_stop_the_whole_group(world: World, tmp_path: Path, how: str) -> None:
    pids = tmp_path / "pids"
    spec = world.registry.resolve(SHELL)
    task: dict[str, Any] = {"id": "long", "type": SHELL, "commands": [
        f"sleep 60 & echo $! > '{pids}'", "(trap '' TERM; sleep 60) &", f"echo $! >> '{pids}'",
        "echo started", "sleep 60"]}
    if how == "timeout":
        task["timeout"] = "PT1S"
    options = spec.options.model_validate(task)
    ctx = world.context("long")
    outcome = _in_thread(lambda: run_task(spec, options, ctx))
    _wait_until(lambda: "started" in world.messages())
    if how == "kill":
        ctx.cancel_event.set()
    ended = outcome()
    assert ended.state is (State.KILLED if how == "kill" else State.FAILED)
    for pid in map(int, pids.read_text().split()):
        _wait_until(lambda pid=pid: not _alive(pid))  # type: ignore[misc] - bound per loop turn


def test_forked_processes_do_not_outlive_a_finished_script(run: Run, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    outcome = run({"type": PYTHON, "script": "\n".join([
        "import os, time",
        "if os.fork() == 0:",
        "    os.setpgid(0, 0) if False else None",
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))",
        "    time.sleep(60)",
        "    os._exit(0)",
        f"while not os.path.exists({str(pid_file)!r}): time.sleep(0.01)",
        "print('parent done')"])})
    assert outcome.state is State.SUCCESS
    child = int(pid_file.read_text())
    _wait_until(lambda: not _alive(child))


def test_working_dir_is_fresh_per_attempt_and_removed(run: Run, world: World) -> None:
    first = run({"type": SHELL, "commands": ["pwd", "touch left-behind"]})
    second = run({"type": SHELL, "commands": ["pwd", "ls left-behind || echo absent"]})
    assert first.state is second.state is State.SUCCESS
    one, two, listing = world.messages(LogLevel.INFO)[0], world.messages(LogLevel.INFO)[1], world.messages()[2:]
    assert one != two and not os.path.exists(one) and not os.path.exists(two)
    assert "absent" in listing


def test_bad_properties_fail_with_one_clear_line(run: Run) -> None:
    windows = run({"type": SHELL, "targetOS": "WINDOWS", "commands": ["true"]})
    assert windows.state is State.FAILED and "targetOS: WINDOWS" in (windows.error or "")
    missing = run({"type": SHELL, "interpreter": ["/no/such/shell", "-c"], "commands": ["true"]})
    assert missing.state is State.FAILED
    assert (missing.error or "").startswith("cannot start '/no/such/shell'")
    outside = run({"type": SHELL, "outputFiles": ["/etc/passwd"], "commands": ["true"]})
    assert outside.state is State.FAILED and "outputFiles: '/etc/passwd'" in (outside.error or "")


def _in_thread(work: Any) -> Any:
    result: list[TaskOutcome] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()

    def join() -> TaskOutcome:
        thread.join(60)
        assert result, "the task did not end within 60 s"
        return result[0]

    return join


def _wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 30 s"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
