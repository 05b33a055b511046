"""A real HTTP server on 127.0.0.1 (a free port) for the http.Request / http.Download tests.

Routes: /json, /text, /echo (method, headers, body as JSON), /status/<code>, /redirect,
/basic (needs user:pass), /bearer, /slow (answers once ``release`` is set), /download,
/empty.
"""
from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CSV = b"id,name\n1,alice\n2,bob\n"


class _Handler(BaseHTTPRequestHandler):
    server: LocalHttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name; keeps test output clean
        pass

    def _send(self, code: int, body: bytes, content_type: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/json":
            self._send(200, json.dumps({"hello": "world", "n": [1, 2]}).encode(), extra={"X-Custom": "yes"})
        elif path == "/text":
            self._send(200, b"plain words", "text/plain; charset=utf-8")
        elif path == "/echo":
            echo = {"method": self.command, "headers": dict(self.headers.items()), "body": body.decode("latin-1")}
            self._send(200, json.dumps(echo).encode())
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b'{"error": "nope"}')
        elif path == "/redirect":
            self._send(302, b"", extra={"Location": "/json"})
        elif path == "/basic":
            expected = "Basic " + base64.b64encode(b"user:pass").decode()
            ok = self.headers.get("Authorization") == expected
            self._send(200 if ok else 401, b'{"auth": "ok"}' if ok else b"{}")
        elif path == "/bearer":
            ok = self.headers.get("Authorization") == "Bearer tok"
            self._send(200 if ok else 401, b"{}")
        elif path == "/slow":
            self.server.release.wait(30)
            self._send(200, b"{}")
        elif path == "/download":
            self._send(200, CSV, "text/csv", {"Content-Disposition": 'attachment; filename="../orders.csv"'})
        elif path == "/empty":
            self._send(200, b"", "text/plain")
        else:
            self._send(404, b"{}")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _route  # noqa: N815 - the stdlib's names


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serve() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()  # frees any request parked on /slow
        server.shutdown()
        server.server_close()
        thread.join()
