"""The broker as the web process sees it: reachable or not, and how many messages wait per queue.

No Celery here (the web process never imports it): Redis is read with redis-py (kombu keeps a
queue as a list named after it, plus ``<queue>\\x06\\x16<priority>`` lists when priorities are
used; bindings in ``_kombu.binding.<exchange>`` sets tell which queues exist), and ``podium-fs://``
by counting the message files of each queue in ``data_dir/broker/queue``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.credentials import without_password
from engine.dispatch import DEFAULT_QUEUE, EXECUTOR_QUEUE
from engine.settings import Settings

if TYPE_CHECKING:
    import redis

_PRIORITY_SEP = "\x06\x16"
_BINDING_PREFIX = "_kombu.binding."
_INTERNAL_EXCHANGES = ("celery.pidbox", "reply.celery.pidbox", "celeryev")


class QueueProbe:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_broker_url
        self.known = list(dict.fromkeys([EXECUTOR_QUEUE, DEFAULT_QUEUE, *settings.worker.queues]))
        self.fs_folder = (settings.data_dir / "broker" / "queue").resolve()
        self._redis: redis.Redis | None = None

    @property
    def kind(self) -> str:
        if self.url.startswith(("redis://", "rediss://", "redis+socket://")):
            return "redis"
        if self.url.startswith("podium-fs://"):
            return "podium-fs"
        if self.url.startswith("memory://"):
            return "memory"
        return "other"

    @property
    def label(self) -> str:
        """The broker URL without its password."""
        return without_password(self.url)

    def ping(self) -> None:
        """Raises when the broker cannot be reached."""
        if self.kind == "redis":
            self._client().ping()
        elif self.kind == "podium-fs" and not self.fs_folder.is_dir():
            raise FileNotFoundError(f"no broker folder {self.fs_folder}; start a Podium process on this data_dir")
        elif self.kind == "other":
            raise RuntimeError(f"cannot check a {self.url.partition(':')[0]} broker from the web process")

    def depths(self) -> dict[str, int]:
        """Messages waiting in each queue (not the ones a worker holds); {} for memory://."""
        if self.kind == "redis":
            return self._redis_depths()
        if self.kind == "podium-fs":
            return self._fs_depths()
        return {}

    def _client(self) -> redis.Redis:
        if self._redis is None:
            import redis  # only a Redis broker needs it

            self._redis = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    def _redis_depths(self) -> dict[str, int]:
        client = self._client()
        names = list(self.known)
        for key in client.scan_iter(match=_BINDING_PREFIX + "*", count=100):
            exchange = key.decode() if isinstance(key, bytes) else str(key)
            if exchange[len(_BINDING_PREFIX):] in _INTERNAL_EXCHANGES:
                continue
            for member in client.smembers(key):
                text = member.decode() if isinstance(member, bytes) else str(member)
                queue = text.split(_PRIORITY_SEP)[-1]
                if queue and queue not in names and not _internal(queue):
                    names.append(queue)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
            for priority in range(1, 10):
                pipe.llen(f"{name}{_PRIORITY_SEP}{priority}")
        counts = pipe.execute()
        step = 10
        return {name: int(sum(counts[i * step:(i + 1) * step])) for i, name in enumerate(names)}

    def _fs_depths(self) -> dict[str, int]:
        depths = {name: 0 for name in self.known}
        folder: Path = self.fs_folder
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return depths
        for entry in entries:
            if entry.startswith(".") or not entry.endswith(".msg"):
                continue  # hidden temp files are messages still being written
            queue = entry.partition(".")[2][: -len(".msg")]
            if queue and not _internal(queue):
                depths[queue] = depths.get(queue, 0) + 1
        return depths


def _internal(queue: str) -> bool:
    """Celery's own queues (remote control replies, events), not Podium work."""
    return queue.endswith(".pidbox") or queue.startswith("celeryev")
