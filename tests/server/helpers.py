"""Real Podium processes for the server tests: ``podium server local``, ``podium worker`` and CLI calls.

Output goes to files (a full pipe would block a process); waits poll a condition with a deadline,
they never assert how long something took.
"""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from engine.services import Services, build_services
from engine.settings import Settings
from tests.celery.procs import ROOT, wait_until

PODIUM = str(Path(sys.executable).with_name("podium"))
DEADLINE = 60.0
HEALTH_LINE = re.compile(r"health: http://127\.0\.0\.1:(\d+)/health")


def clean_env() -> dict[str, str]:
    """The caller's environment without PODIUM_ settings: every process uses the defaults."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PODIUM_")}
    return {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


class ReadOnly:
    """The dispatcher of the test's own services: they only read, so any message is a test bug."""

    def dispatch_task_runs(self, refs: Any, *, chain: bool = False, spread: bool = False, join: Any = None) -> None:
        raise AssertionError("the test's services must not dispatch")

    def send_event(self, execution_id: str, event: Any) -> None:
        raise AssertionError("the test's services must not send events")

    def kill_task_runs(self, refs: Any) -> None:
        raise AssertionError("the test's services must not kill")


class Proc:
    """A background process whose stdout and stderr are files (``out`` / ``err``)."""

    def __init__(self, args: list[str], folder: Path, name: str) -> None:
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(args, cwd=ROOT, env=clean_env(), stdout=out, stderr=err)

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = DEADLINE) -> int:
        """Sends ``sig`` and waits for the exit; kills it (and fails the wait) if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.process.args} did not stop within {timeout} s:\n{self.err}") from None


class Server(Proc):
    """``podium server local --flows FLOWS --data-dir DATA --port 0``, up once /health answers."""

    def __init__(self, flows: Path, data: Path, folder: Path) -> None:
        super().__init__([PODIUM, "server", "local", "--flows", str(flows), "--data-dir", str(data),
                          "--port", "0"], folder, "server")
        self.flows, self.data = flows, data
        if not wait_until(lambda: HEALTH_LINE.search(self.out) is not None or self.process.poll() is not None,
                          DEADLINE):
            raise AssertionError(f"the server printed no health line:\n{self.out}\n{self.err}")
        found = HEALTH_LINE.search(self.out)
        if found is None:
            raise AssertionError(f"the server exited ({self.process.poll()}):\n{self.out}\n{self.err}")
        self.port = int(found.group(1))

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def podium(self, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
        """A ``podium`` command on this server's instance, in its own process."""
        return subprocess.run([PODIUM, *args, "--data-dir", str(self.data)], cwd=ROOT, env=clean_env(),
                              capture_output=True, text=True, timeout=timeout)

    def execution(self, execution_id: str) -> dict[str, Any]:
        """The execution as the database holds it now (read in this process: polls stay cheap)."""
        return dict(self.reader.get_execution(execution_id).to_json())

    @functools.cached_property
    def reader(self) -> Services:
        return build_services(Settings(data_dir=self.data), ReadOnly(), migrate=False)

    def start(self, namespace: str, flow_id: str, *options: str) -> str:
        started = self.podium("execution", "start", namespace, flow_id, *options)
        assert started.returncode == 0, started.stderr
        return started.stdout.strip()

    def wait_for_state(self, execution_id: str, *states: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.execution(execution_id))
            return seen["state"]["current"] in states

        assert wait_until(reached, DEADLINE, step=0.2), f"never {states}: {seen.get('state')}\n{self.err}"
        return seen


def write_flow(path: Path, yaml_text: str) -> Path:
    """Writes a flow file (``yaml_text`` is dedented) in one step, as an editor's save would."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(textwrap.dedent(yaml_text).lstrip())
    os.replace(tmp, path)
    return path


def log_flow(flow_id: str, message: str) -> str:
    return f"""
        id: {flow_id}
        namespace: company.team
        tasks:
          - id: say
            type: io.kestra.plugin.core.log.Log
            message: {message}
        """
