"""kombu's Redis transport, publishing through one client per connection pool.

kombu's Redis channel builds a ``redis.Redis`` for every command it sends outside its event loop
(``Channel.conn_or_acquire``): every publish. redis-py fills some 170 response callbacks in that
constructor, about 0.25 ms of CPU, a third of a publish's; Podium publishes a dispatch and a
result event per task run, in every process. A client takes a connection from its pool for each
command and gives it back, so threads can share one: this channel keeps one per pool, and a new
one when kombu replaced the pool (after a connection error). Everything else is kombu's.

``make_celery`` selects it for ``redis://`` and ``rediss://`` broker URLs (``broker_transport``).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from kombu.transport import redis as kombu_redis

TRANSPORT = f"{__name__}:Transport"


class Channel(kombu_redis.Channel):
    _shared: tuple[redis.ConnectionPool, redis.Redis] | None = None  # the pool, and its client

    @contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        if client:
            yield client
            return
        pool, shared = self.pool, self._shared
        if shared is None or shared[0] is not pool:
            new_client: redis.Redis = self._create_client()  # type: ignore[no-untyped-call]  # kombu has no type hints
            shared = self._shared = (pool, new_client)
        yield shared[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
