"""L2 adapter: daemon threads that are reused, for the task functions of attempts.

Each attempt runs its task function on a thread of its own, so the caller can stop waiting at a
timeout or a kill. Starting a thread costs a few hundred microseconds, a visible share of a no-op
task run; an idle thread waits here for the next function instead. The threads are daemons: a
task that ignores its cancel event must not keep the process alive. A thread stuck in such a
task is simply never idle again. Safe across ``fork``: a child starts with no idle thread.
"""
from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable
from functools import partial


class ReusedThreads:
    def __init__(self, name: str, max_idle: int = 16) -> None:
        self._name, self._max_idle = name, max_idle
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._functions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0  # threads waiting on _functions minus functions queued there

    def submit(self, function: Callable[[], None]) -> None:
        """Runs ``function`` on an idle thread, or a new one, in a copy of the caller's context
        variables (nothing a previous function set leaks into it); it must not raise."""
        context = contextvars.copy_context()
        function = partial(context.run, function)
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # forked: the parent's idle threads do not exist here
            if self._idle:
                self._idle -= 1
                self._functions.put(function)
                return
        threading.Thread(target=self._serve, args=(function, self._functions), daemon=True,
                         name=self._name).start()

    def _serve(self, function: Callable[[], None], functions: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            function()
            with self._lock:
                if functions is not self._functions or self._idle >= self._max_idle:
                    return
                self._idle += 1
            function = functions.get()
