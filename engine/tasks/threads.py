"""L2 adapter: daemon threads that are reused, for the task functions of attempts, and stopped.

Each attempt runs its task function on a thread of its own, so the caller can stop waiting at a
timeout or a kill. Starting a thread costs a few hundred microseconds, a visible share of a no-op
task run; an idle thread waits here for the next function instead. Safe across ``fork``: a child
starts with no idle thread.

**Stopping.** ``Running.stop()`` raises :class:`Stopped` inside the thread
(``PyThreadState_SetAsyncExc``): Python code that ignores its cancel event stops at its next
instruction. A thread blocked inside one C call (a sleep, a socket read, a regex, a jq program)
sees it only when the call returns. ``Stopped`` is a BaseException, so a task's ``except
Exception`` lets it through. A stop that is still pending when the function returns is taken
back, so it never reaches other code; and a thread that was sent a stop is not reused.

**Runaways.** A thread still running after its caller gave up on it (``runaway``) is counted
against the thread that submitted it, the worker's slot: ``wait_for_runaways`` holds that slot
until they end, so a worker never runs more stuck threads than it has slots (docs/reliability.md,
*Timeouts*). The threads are daemons: a runaway does not keep the process alive.
"""
from __future__ import annotations

import contextvars
import ctypes
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from functools import partial

log = logging.getLogger("podium.tasks")
_RUNAWAY_POLL_SECONDS = 0.2


class Stopped(BaseException):
    """Raised inside a task's thread to stop it (``Running.stop``)."""


def _raise_in(ident: int, exception: type[BaseException] | None) -> int:
    """Makes ``exception`` pending in the thread ``ident`` (None: takes a pending one back); the
    number of threads changed (0: the thread is gone)."""
    pending = ctypes.py_object(exception) if exception is not None else None  # None: NULL
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), pending))


class Running:
    """One function submitted to ``ReusedThreads``, as its submitter sees it: ``ended`` once it
    returned, ``stop()`` to raise ``Stopped`` in its thread while it runs."""

    def __init__(self, function: Callable[[], None]) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = False
        self.stops = 0  # how many times stop() was called
        self.ended = threading.Event()

    @property
    def alive(self) -> bool:
        """Whether the function has not returned yet (queued, or running)."""
        return not self.ended.is_set() and (self._thread is None or self._thread.is_alive())

    def stop(self) -> bool:
        """Raises ``Stopped`` in the thread at its next Python instruction (a function not started
        yet is not run); False once the function returned."""
        with self._lock:
            if self._done:
                return False
            self.stops += 1
            if self._thread is not None and self._thread.ident is not None:
                _raise_in(self._thread.ident, Stopped)
            return True

    def run(self) -> None:
        """Runs the function on the calling thread (the function must not raise)."""
        try:
            with self._lock:
                self._thread = threading.current_thread()
                skip = self.stops > 0
            if not skip:
                self._function()
        except Stopped:
            pass  # the function records the stops it meets; this one arrived as it returned
        finally:
            self._end()

    def _end(self) -> None:
        with self._lock:
            self._done = True
            if self.stops and self._thread is not None and self._thread.ident is not None:
                _raise_in(self._thread.ident, None)  # a stop not raised yet never will be
        self.ended.set()


class ReusedThreads:
    def __init__(self, name: str, max_idle: int = 16) -> None:
        self._name, self._max_idle = name, max_idle
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._functions: queue.SimpleQueue[Running] = queue.SimpleQueue()
        self._idle = 0  # threads waiting on _functions minus functions queued there
        self._runaways: dict[int, list[Running]] = {}  # by the ident of the thread that submitted them

    def submit(self, function: Callable[[], None]) -> Running:
        """Runs ``function`` on an idle thread, or a new one, in a copy of the caller's context
        variables (nothing a previous function set leaks into it); it must not raise."""
        context = contextvars.copy_context()
        running = Running(partial(context.run, function))
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # forked: the parent's idle threads do not exist here
            if self._idle:
                self._idle -= 1
                self._functions.put(running)
                return running
        threading.Thread(target=self._serve, args=(running, self._functions), daemon=True,
                         name=self._name).start()
        return running

    def _serve(self, running: Running, functions: queue.SimpleQueue[Running]) -> None:
        try:
            while True:
                running.run()
                with self._lock:
                    if running.stops or functions is not self._functions or self._idle >= self._max_idle:
                        return
                    self._idle += 1
                running = functions.get()
        except Stopped:
            return  # a stop that arrived between the function's return and its end: not reused

    def runaway(self, running: Running, what: str) -> None:
        """``running`` outlived its stop: the calling thread's slot is busy until it ends."""
        with self._lock:
            self._runaways.setdefault(threading.get_ident(), []).append(running)
        log.warning("%s still runs after it was stopped; its worker slot stays busy until it ends "
                    "(a restart of the worker ends it)", what)

    def has_runaways(self) -> bool:
        """Whether a function the calling thread submitted outlived its stop and may still run."""
        return threading.get_ident() in self._runaways

    def wait_for_runaways(self, what: str, report_every: float = 60.0) -> None:
        """Returns once every function the calling thread submitted that outlived its stop has
        ended; says so every ``report_every`` seconds while they run."""
        with self._lock:
            runaways = self._runaways.get(threading.get_ident(), [])
        started = reported = time.monotonic()
        while any(running.alive for running in runaways):
            time.sleep(_RUNAWAY_POLL_SECONDS)
            if time.monotonic() - reported >= report_every:
                reported = time.monotonic()
                log.warning("%s: a task thread still runs %.0f s after it was stopped", what, reported - started)
        with self._lock:
            self._runaways.pop(threading.get_ident(), None)
