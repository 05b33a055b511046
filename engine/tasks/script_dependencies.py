"""L2 adapter: Python ``dependencies`` of a script task, installed once per distinct set.

Kestra 1.x installs a Python task's ``dependencies`` with uv and caches them. Here each distinct
set (sorted, with the interpreter's path and version and the package manager) is one virtual
environment under the cache folder (``scripts.dependency_cache_dir``), named by the SHA-256 of
that key and reused by every later run on the same host.

Two workers (or two task runs of one) that need the same set at once: the builder holds an
exclusive file lock (``<key>.lock``, released by the kernel if its process dies), builds, and
renames a marker file into the environment (atomic): an environment without its marker is not
used, and is removed and built again. Whoever waited for the lock finds it built. A set that fails
to install leaves nothing behind and fails its task run with the installer's last lines.

The installer is uv when it is there (on ``PATH`` or beside the worker's Python) and the task does
not ask for ``packageManager: PIP``; pip otherwise. Neither downloads an interpreter: a
``pythonVersion`` must be installed on the worker (``python3.12``...).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.tasks.outcome import TaskFailed
from engine.tasks.processes import STOPPED, stop_group

_MARKER = "podium-env.json"
_INSTALL_TIMEOUT = 900.0
_POLL_SECONDS = 0.1
_INSTALLER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
                  "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")


@dataclass(frozen=True)
class PythonEnv:
    """A ready environment: its folder, and whether it was built for this run (a cache miss)."""

    path: Path
    built: bool

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podium" / "python-envs"


def find_uv() -> str | None:
    """uv on the PATH, else beside this Python (installed with Podium)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def find_python(version: str | None) -> str:
    """The interpreter environments are built on: ``python<version>`` from the PATH when a version
    is asked, else the worker's own (its packages are not seen by the environment)."""
    if not version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        raise TaskFailed(f"pythonVersion: no 'python{version}' on the worker's PATH; install that Python "
                         "on the worker or remove pythonVersion")
    return found


def environment(packages: Sequence[str], *, python: str, cache_dir: Path | None, use_uv: bool,
                cached: bool = True, cancelled: Callable[[], bool] = lambda: False) -> PythonEnv:
    """The environment with ``packages`` installed for the interpreter ``python``; built now if
    it is not in the cache (or when ``cached`` is false: then in a new folder the caller removes)."""
    uv = find_uv() if use_uv else None
    root = cache_dir or default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    if not cached:
        target = Path(tempfile.mkdtemp(prefix="podium-env-", dir=root))
        _build(target, packages, python, uv, cancelled)
        return PythonEnv(target, built=True)
    key = _key(packages, python, "uv" if uv else "pip")
    target = root / key
    if (target / _MARKER).is_file():
        return PythonEnv(target, built=False)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if (target / _MARKER).is_file():
            return PythonEnv(target, built=False)  # built by whoever held the lock
        # Built in place (a venv's scripts name its folder, so it cannot be moved), under the lock;
        # it counts as built only once its marker is renamed into place, so a build that died
        # half-way is removed and done again by the next one.
        shutil.rmtree(target, ignore_errors=True)
        try:
            _build(target, packages, python, uv, cancelled)
            marker = target / f".{_MARKER}.tmp"
            marker.write_text(json.dumps({"packages": sorted(packages), "python": python}))
            os.rename(marker, target / _MARKER)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    return PythonEnv(target, built=True)


def _key(packages: Sequence[str], python: str, installer: str) -> str:
    if python == sys.executable:
        version = sys.version
    else:
        version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True,
                                 text=True, check=False, timeout=60).stdout.strip()
    identity = {"packages": sorted({p.strip() for p in packages if p.strip()}), "python": python,
                "version": version, "installer": installer}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _build(folder: Path, packages: Sequence[str], python: str, uv: str | None,
           cancelled: Callable[[], bool]) -> None:
    env = _installer_env()
    if uv:
        _install([uv, "venv", "--quiet", "--python", python, str(folder)], env, cancelled)
        _install([uv, "pip", "install", "--quiet", "--python", str(folder / "bin" / "python"), *packages],
                 env, cancelled)
    else:
        # The worker's own pip installs into the new environment (pip's --python): a venv of its
        # own pip (ensurepip) costs seconds more per set, and the environment needs none.
        _install([python, "-m", "venv", "--without-pip", str(folder)], env, cancelled)
        _install([sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "--quiet",
                  *packages], env, cancelled)


def _installer_env() -> dict[str, str]:
    """What the installer gets of the worker's environment: where to find the index (proxies,
    certificates, pip's and uv's own settings), never the worker's settings and secrets, since
    installing runs the packages' build code."""
    env = {name: value for name, value in os.environ.items()
           if name in _INSTALLER_ENV or name.startswith(("PIP_", "UV_")) or name.lower().endswith("_proxy")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"UV_PYTHON_DOWNLOADS": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def _install(argv: list[str], env: dict[str, str], cancelled: Callable[[], bool]) -> None:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    deadline, ended = time.monotonic() + _INSTALL_TIMEOUT, False
    try:
        while True:
            try:
                out, _ = process.communicate(timeout=_POLL_SECONDS)
                ended = True
                break
            except subprocess.TimeoutExpired:
                if cancelled():
                    raise TaskFailed(STOPPED) from None
                if time.monotonic() > deadline:
                    raise TaskFailed(f"dependencies: '{Path(argv[0]).name} {argv[1]}' took longer than "
                                     f"{_INSTALL_TIMEOUT:.0f} s") from None
    finally:
        if not ended:
            stop_group(process, 0.5)
    if process.returncode != 0:
        tail = " | ".join(line for line in out.strip().splitlines()[-3:])
        raise TaskFailed(f"dependencies could not be installed ({Path(argv[0]).name} exit {process.returncode}): "
                         f"{tail}; check the package names and that the worker reaches the package index")
