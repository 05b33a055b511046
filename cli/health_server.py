"""L4: a tiny ``GET /health`` endpoint for ``podium server local``, which runs no web process.

Runs the stdlib ``ThreadingHTTPServer`` in a background thread on 127.0.0.1 and answers
``{"status", "database", "broker"}``; ``status`` is ``UP`` only when every check is.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.health import health_report

Check = Callable[[], dict[str, Any]]


def _handler_for(check: Check) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            if self.path.split("?")[0] != "/health":
                self._send(404, {"error": f"no route {self.path}; try GET /health"})
                return
            body = check()
            self._send(200 if body.get("status") == "UP" else 503, body)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass  # a health probe every few seconds would flood the console

    return Handler


class HealthServer:
    """``with HealthServer(check, port):`` serves /health until the block ends."""

    def __init__(self, check: Check, port: int, host: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_for(check))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="podium-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> HealthServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def health_check(database: Callable[[], None], broker: Callable[[], None], broker_name: str) -> Check:
    """A check calling ``database()`` and ``broker()``; each raises when its part is down."""
    return lambda: health_report({"database": database, "broker": broker}, broker_url=broker_name)
