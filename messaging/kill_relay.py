"""L4: how a kill reaches an attempt that a prefork child process runs, within a second.

The ``podium_kill`` broadcast (``messaging.kills``) reaches a worker's main process, but a
prefork worker runs attempts in child processes whose services the main process cannot reach.
Each child therefore listens on a Unix datagram socket of its own, ``<folder>/<child pid>``, in a
folder of its worker (``relay_folder``: under the temporary folder, named by the user and the
main process's pid, mode 0700, so only that user can send to it). The main process relays each
kill to every child's socket (``relay_kill``); a child stops the attempts it runs among them the
way a threads pool does (``deliver_kill``: their cancel events, its kill switch), so they end
KILLED and report it like any other end.

Any broker works (Redis, ``podium-fs://``): the relay starts where the broadcast ends, in the
worker's own process tree. A datagram lost (a child busy past its socket's buffer) leaves the
SIGTERM the main process sends later (``messaging.kills``) and, after it, the lease's lapse.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

log = logging.getLogger("podium.kills")
#: Ids per datagram: a kill of a wide fan-out names thousands of attempts, and a Unix datagram
#: holds some 200 KB at most; 500 pairs of ids are about 25 KB.
IDS_PER_DATAGRAM = 500
_SEND_TIMEOUT_SECONDS = 0.2
_RECEIVE_BYTES = 1 << 20

#: What a child does with a relayed kill: ``deliver_kill(app, task_run_ids, attempt_ids)``.
Deliver = Callable[[list[str], list[str]], None]


def relay_folder(main_pid: int) -> Path:
    """The folder of the sockets of one worker's children (short: a socket path has ~100 bytes)."""
    return Path(tempfile.gettempdir()) / f"podium-kills-{os.geteuid()}-{main_pid}"


def listen_for_kills(deliver: Deliver) -> Path | None:
    """In a prefork child: binds this child's socket and starts the thread that delivers the
    kills it receives. Returns the socket's path; None if it could not be bound (the kill then
    comes by SIGTERM and the lease, as the warning says)."""
    try:
        folder = _own_folder(relay_folder(os.getppid()))
        path = folder / str(os.getpid())
        path.unlink(missing_ok=True)  # a socket of an earlier process with this pid
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(str(path))
    except OSError as error:
        log.warning("kills will reach this worker process only by SIGTERM (%s: %s)", type(error).__name__, error)
        return None
    threading.Thread(target=_receive, args=(receiver, deliver), daemon=True, name="podium-kills").start()
    return path


def relay_kill(task_run_ids: Sequence[str], attempt_ids: Sequence[str]) -> int:
    """In a worker's main process: sends a kill to every child's socket; how many were reached."""
    folder = relay_folder(os.getpid())
    try:
        children = [entry for entry in folder.iterdir() if entry.name.isdigit()]
    except FileNotFoundError:
        return 0  # no prefork child ever listened: a threads or solo pool
    reached = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.settimeout(_SEND_TIMEOUT_SECONDS)
        for child in children:
            reached += _send(sender, child, list(_datagrams(task_run_ids, attempt_ids)))
    return reached


def forget_relay_folder() -> None:
    """Removes this main process's folder when the worker stops (its children are gone)."""
    shutil.rmtree(relay_folder(os.getpid()), ignore_errors=True)


def _own_folder(folder: Path) -> Path:
    """``folder``, created if need be, refused unless it is this user's and closed to others."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    status = folder.lstat()
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
        raise PermissionError(f"{folder} is not a folder of this user closed to others")
    return folder


def _datagrams(task_run_ids: Sequence[str], attempt_ids: Sequence[str]) -> Iterator[bytes]:
    step = IDS_PER_DATAGRAM
    for start in range(0, max(len(task_run_ids), len(attempt_ids)), step):
        yield json.dumps({"task_run_ids": list(task_run_ids[start:start + step]),
                          "attempt_ids": list(attempt_ids[start:start + step])}).encode()


def _send(sender: socket.socket, child: Path, datagrams: list[bytes]) -> int:
    try:
        for datagram in datagrams:
            sender.sendto(datagram, str(child))
    except (ConnectionRefusedError, FileNotFoundError):
        child.unlink(missing_ok=True)  # that child is gone; its pool replaced it
        return 0
    except OSError as error:  # a full buffer, a timeout: SIGTERM and the lease stay behind
        log.warning("could not relay a kill to worker process %s (%s)", child.name, error)
        return 0
    return 1


def _receive(receiver: socket.socket, deliver: Deliver) -> None:
    while True:
        try:
            datagram = receiver.recv(_RECEIVE_BYTES)
            task_run_ids, attempt_ids = _decode(datagram)
            deliver(task_run_ids, attempt_ids)
        except Exception:  # a bad datagram or a failed delivery must not stop the next kills
            log.warning("could not deliver a relayed kill", exc_info=True)


def _decode(datagram: bytes) -> tuple[list[str], list[str]]:
    body = json.loads(datagram)
    task_run_ids, attempt_ids = body["task_run_ids"], body["attempt_ids"]
    if not all(isinstance(value, str) for value in [*task_run_ids, *attempt_ids]):
        raise ValueError("a relayed kill names ids that are not strings")
    return list(task_run_ids), list(attempt_ids)
