"""L2: a safe filesystem broker for several Podium processes on one machine without Redis.

kombu's stock ``filesystem://`` transport writes each message file in place, so a worker polling
the folder can pick up (and fail to decode) a half-written file; it claims a message by
``shutil.move`` to the system temp folder, which is a copy + delete (two readers may both get it)
when that folder is on another file system; and it rewrites exchange tables in place.

This subclass makes every step atomic on POSIX:

- a message is written under a hidden temporary name in the same folder, then ``os.replace``-d to
  its final ``*.msg`` name, so readers only ever see complete files;
- a reader claims a message by ``os.rename`` into a ``claimed`` folder on the same file system:
  exactly one reader wins, the others get ``FileNotFoundError`` and try the next file;
- exchange tables (which queue a routing key goes to) are rewritten the same way under a lock.

Registered as the ``podium-fs://`` broker URL by :func:`register_fs_transport` (``make_celery``
does it); the folders live under ``settings.data_dir / "broker"``. Like every kombu virtual
transport, a message a worker claimed but had not finished when it was killed with SIGKILL is lost;
the task run's lease expires and the reaper re-dispatches it.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import IO, Any

from celery import Celery
from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

_log = logging.getLogger("podium.broker")

# kombu carries no type hints: the helpers of kombu this module calls, with the types it uses.
_to_json: Callable[[object], str] = dumps
_from_json: Callable[[str], Any] = loads
_to_bytes: Callable[[str], bytes] = str_to_bytes
_to_text: Callable[[bytes], str] = bytes_to_str
_lock: Callable[[IO[bytes], int], None] = filesystem.lock
_unlock: Callable[[IO[bytes]], None] = filesystem.unlock
_new_broker_state: Callable[[], virtual.BrokerState] = virtual.BrokerState
Rows = list[filesystem.exchange_queue_t]

FS_SCHEME = "podium-fs://"
FS_ALIAS = "podium-fs"
_TMP_PREFIX = ".tmp-"  # hidden names are never read as messages (see _message_files)


def register_fs_transport() -> None:
    """Makes ``podium-fs://`` a kombu broker URL (kombu keeps aliases in one dict, by design)."""
    TRANSPORT_ALIASES[FS_ALIAS] = f"{__name__}:Transport"


def fs_transport_options(root: Path) -> dict[str, Any]:
    """Transport options for a broker folder ``root`` (created if missing)."""
    root = root.resolve()
    folders = {"queue": root / "queue", "claimed": root / "claimed", "control": root / "control"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["claimed"]), "control_folder": str(folders["control"]),
            "store_processed": False}


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` so that a reader sees either no file or the whole file."""
    tmp = path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class Channel(filesystem.Channel):
    """Filesystem channel whose writes and claims are atomic renames."""

    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]  # kombu's base channel calls it 'message', its filesystem one 'payload'
        # A zero-padded wall-clock prefix keeps FIFO order across processes when sorted by name;
        # the queue name follows the first dot, as the stock _size/_purge expect.
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        try:
            write_atomically(Path(self.data_folder_out) / name, _to_bytes(_to_json(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to {self.data_folder_out}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        for name in self._message_files(queue):
            claimed = Path(self.processed_folder) / name
            try:
                os.rename(Path(self.data_folder_in) / name, claimed)
            except FileNotFoundError:
                continue  # another reader claimed it first
            try:
                payload = claimed.read_bytes()
            finally:
                claimed.unlink(missing_ok=True)
            message: dict[str, Any] = _from_json(_to_text(payload))
            return message
        raise Empty()

    def _message_files(self, queue: str) -> list[str]:
        suffix = f"{queue}.msg"
        return sorted(name for name in os.listdir(self.data_folder_in)
                      if not name.startswith(_TMP_PREFIX) and name.partition(".")[2] == suffix)

    def get_table(self, exchange: str) -> Rows:
        # Tables are replaced atomically, so a plain read sees a whole table without a lock.
        try:
            data = self._table_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*row) for row in _from_json(_to_text(data))]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda rows: rows if row in rows else [row, *rows])

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str,
                *args: Any, **kwargs: Any) -> None:
        # Skip the stock in-place table rewrite: drop the queue's files and binding ourselves.
        self._purge(queue)  # type: ignore[no-untyped-call]  # kombu's Channel has no type hints
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda rows: [r for r in rows if r != row])

    def _update_table(self, exchange: str, change: Callable[[Rows], Rows]) -> None:
        file = self._table_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        # A sidecar lock file serialises writers; readers need no lock thanks to os.replace.
        with open(file.with_suffix(".lock"), "a+b") as lock_handle:
            _lock(lock_handle, filesystem.LOCK_EX)
            try:
                rows = self.get_table(exchange)
                new_rows = change(rows)
                if new_rows != rows:
                    write_atomically(file, _to_bytes(_to_json(new_rows)))
            finally:
                _unlock(lock_handle)

    def _table_file(self, exchange: str) -> Path:
        """The exchange's table file, its name checked by kombu (no '..', no separator)."""
        file: Path = self._exchange_file(exchange)  # type: ignore[no-untyped-call]  # kombu's Channel has no type hints
        return file


class Transport(filesystem.Transport):
    """``podium-fs://``: kombu's filesystem transport with atomic writes and claims."""

    Channel = Channel
    global_state = _new_broker_state()  # our own, not shared with the stock transport
    driver_type = "podium-fs"
    driver_name = "podium-fs"


def forget_mailbox(app: Celery, hostname: str) -> None:
    """Unbinds the worker's remote-control queue: virtual transports (podium-fs://) never
    auto-delete it, and broadcasts (kills) would keep filling it after this worker is gone."""
    try:
        with app.connection_for_write() as connection:
            app.control.mailbox.get_queue(hostname)(connection.default_channel).delete()
    except Exception:  # noqa: BLE001 - a stopped worker must not fail its stop over housekeeping
        _log.warning("could not remove the remote-control queue of %s", hostname, exc_info=True)
