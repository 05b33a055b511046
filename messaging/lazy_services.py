"""Services built on first use, once per process: a forked prefork child builds its own."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

S = TypeVar("S")


class LazyServices(Generic[S]):
    """Builds the services on first use, once per process (a forked child builds its own)."""

    def __init__(self, provider: Callable[[], S]) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._services: S | None = None

    def get(self) -> S:
        with self._lock:
            # Database pools must not cross a fork, hence the pid check.
            if self._services is None or self._pid != os.getpid():
                self._services = self._provider()
                self._pid = os.getpid()
            return self._services

    def peek(self) -> S | None:
        """The services if this process built them already, else None (never builds)."""
        with self._lock:
            return self._services if self._pid == os.getpid() else None
