"""Throwaway servers for the test suite: a PostgreSQL cluster and a Redis server.

Each pytest process (each xdist worker too) starts its own servers in its own temporary
directory, on a free port of 127.0.0.1, and stops them at the end. Nothing assumes a
server already running on the machine.

When a server binary is missing, ``require_service`` skips the test locally and fails it
when ``PODIUM_REQUIRE_SERVICES=1`` (CI), so CI can never go green by skipping everything.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_ENV = "PODIUM_REQUIRE_SERVICES"
START_ATTEMPTS = 5


def require_service(reason: str) -> NoReturn:
    """Skips (locally) or fails (CI) a test whose server cannot be started."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: services are required here)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port free right now. Another process may take it before we bind: callers retry."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


# ---------------------------------------------------------------- PostgreSQL

def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresCluster:
    """A running throwaway cluster; ``url(db)`` gives a psycopg 3 SQLAlchemy URL."""

    bin_dir: Path
    root: Path
    port: int
    password: str | None = None       # of the postgres user over TCP; None: no password asked

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                      "-w", "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    # initdb and postgres refuse to run as root; run them as the postgres user when we are root.
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=check, capture_output=True, text=True)


def start_postgres(password: str | None = None) -> PostgresCluster:
    """initdb into a fresh temp dir and start on a free port (retrying if the port is taken);
    with ``password``, TCP connections must give it (scram-sha-256), as a real server asks."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        require_service("PostgreSQL binaries (initdb) not found; run scripts/install-services.sh")
    root = Path(tempfile.mkdtemp(prefix="podium-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    auth = ["-A", "trust"]
    if password is not None:
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    _as_postgres([str(bin_dir / "initdb"), "-D", str(data), *auth, "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
    last_error = ""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        result = _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "30",
                               "-l", str(root / "server.log"), "-o", options, "start"], check=False)
        if result.returncode == 0 and _wait_for_port(port, 10):
            return PostgresCluster(bin_dir, root, port, password)
        last_error = result.stderr + _tail(root / "server.log")
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start PostgreSQL: {last_error}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- Redis

@dataclass
class RedisServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str | None = None       # requirepass; None: no AUTH asked

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *parts: str) -> bytes:
        """Sends one inline command (enough for PING / FLUSHALL / INFO without a client)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            auth = f"AUTH {self.password}\r\n" if self.password is not None else ""
            sock.sendall((auth + " ".join(parts) + "\r\n").encode())
            time.sleep(0.01)
            return sock.recv(65536)

    def is_ours(self) -> bool:
        """True when the server answering on our port is the process we started.

        Another xdist worker may have grabbed the same free port first: then our process
        exits and a PING would be answered by the other worker's server.
        """
        if self.process.poll() is not None:
            return False
        try:
            info = self.command("INFO", "server").decode(errors="replace")
        except OSError:
            return False
        return f"process_id:{self.process.pid}\r" in info

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis(password: str | None = None) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server not found; run scripts/install-services.sh")
    root = Path(tempfile.mkdtemp(prefix="podium-redis-"))
    for _ in range(START_ATTEMPTS):
        port = free_port()
        with open(root / "redis.log", "ab") as log:
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(root),
                 *(["--requirepass", password] if password is not None else [])],
                stdout=log, stderr=subprocess.STDOUT)
        server = RedisServer(root, port, process, password)
        if _wait_for_port(port, 5) and server.is_ours():
            return server
        if process.poll() is None:
            process.terminate()
            process.wait()
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError("could not start redis-server on a free port")
