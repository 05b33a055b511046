"""``podium server web``: the web process under gunicorn, started as a user starts it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PODIUM = str(Path(sys.executable).with_name("podium"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_health(url: str, deadline: float) -> tuple[int, dict[str, object]]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:  # 503: a part is down, still the app's JSON
            return err.code, json.loads(err.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_podium_server_web_serves_the_app_under_gunicorn(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PODIUM_DATA_DIR": str(tmp_path / "data")}
    env.pop("PODIUM_BROKER_URL", None)
    env.pop("PODIUM_DATABASE_URL", None)
    process = subprocess.Popen([PODIUM, "server", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        status, body = _get_health(f"http://127.0.0.1:{port}/health", time.monotonic() + 60)
        assert status in (200, 503) and "database" in body, body
        assert body["database"] == "UP"
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert "gunicorn" in output.lower() or "Listening at" in output, output


def test_podium_server_web_refuses_bad_settings_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([PODIUM, "server", "web"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PODIUM_DATA_DIR": str(tmp_path), "PODIUM_EXECUTOR__CONCURRENCY": "0"})
    assert result.returncode == 2
    assert "invalid settings" in result.stderr and "Traceback" not in result.stderr
