"""L4: how a kill request reaches the worker running a task run.

``CeleryDispatcher.kill_task_runs`` does two things:

1. ``revoke`` of the Celery task ids (``celery_task_id(ref)``, one per attempt): a worker drops a
   revoked message when it arrives, so queued task runs (and the later links of a chain) never
   start. No ``terminate=True`` there: the threads pool raises on it.
2. the ``podium_kill`` remote control command, run by every worker's main process:

   - it marks the attempts in the worker's :class:`KillSwitch` (``podium.run_task_run`` skips a
     marked attempt; a runner may poll :meth:`KillSwitch.is_killed`);
   - it calls ``kill_local_task_runs(ids)`` on that process's worker services, if built
     (``attach_services``): this stops attempts running in threads (threads pool, embedded runtime);
   - it relays the kill to its prefork children (``messaging.kill_relay``), whose services are
     out of reach of the main process: each stops its attempts among them as above, so they end
     KILLED and report it within a second, and a script's process group is stopped with them;
   - on a pool that can terminate jobs (prefork), a message still running ``KILL_GRACE_SECONDS``
     later (the relay was lost, or the task ignores its cancel event) gets SIGTERM for its
     child process; its attempt then ends KILLED when its lease lapses. A message running a batch
     (a chunk, or a chain link running the links after it: ``worker.batches``) may be running an
     attempt other than its own: it counts when the message is of a killed execution (Podium
     kills whole executions only).

Both travel as broadcasts (Redis, ``podium-fs://``). With the embedded ``memory://`` broker the
worker lives in the same process, so the dispatcher does the same directly, without broadcasting.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

from celery import Celery
from celery.concurrency.base import BasePool
from celery.utils.collections import AttributeDict
from celery.worker import state as worker_state
from celery.worker.control import control_command
from celery.worker.request import Request

from messaging.kill_relay import relay_kill
from messaging.task_names import RUN_TASK_RUN, RUN_TASK_RUNS

KILL_COMMAND = "podium_kill"
#: How long an attempt has to stop by itself after its kill (a task gets ``runner.COOPERATIVE_SECONDS``
#: and its program a grace after that) before its prefork child is terminated.
KILL_GRACE_SECONDS = 5.0
log = logging.getLogger("podium.kills")
_APP_ATTRIBUTE = "podium_kill_switch"
_SERVICES_ATTRIBUTE = "podium_local_services"


class LocalKills(Protocol):
    """What a kill asks of the services of the process that runs the attempts (the worker's)."""

    def kill_local_task_runs(self, task_run_ids: list[str]) -> None: ...


class KillSwitch:
    """Task run attempts asked to stop, remembered (bounded) so a late message is still skipped.

    Keyed by attempt (``"<task_run_id>.<attempt>"``, the Celery task id), so that a restart, which
    makes a new attempt of the same task run, is not skipped.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def request(self, attempt_ids: Iterable[str]) -> None:
        with self._lock:
            for attempt_id in attempt_ids:
                self._ids[attempt_id] = None
                self._ids.move_to_end(attempt_id)
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)

    def is_killed(self, task_run_id: str, attempt: int) -> bool:
        with self._lock:
            return attempt_key(task_run_id, attempt) in self._ids


def attempt_key(task_run_id: str, attempt: int) -> str:
    """One attempt of a task run; also its Celery task id."""
    return f"{task_run_id}.{attempt}"


def kill_switch(app: Celery) -> KillSwitch:
    """The kill switch of ``app`` (one per app, created on first use)."""
    switch = getattr(app, _APP_ATTRIBUTE, None)
    if switch is None:
        switch = KillSwitch()
        setattr(app, _APP_ATTRIBUTE, switch)
    return switch


def attach_services(app: Celery, peek: Callable[[], LocalKills | None]) -> None:
    """Tells kills where this process's worker services are (``peek`` returns them if built)."""
    setattr(app, _SERVICES_ATTRIBUTE, peek)


def deliver_kill(app: Celery, task_run_ids: list[str], attempt_ids: list[str]) -> None:
    """Stops these task runs in this process: marks the attempts, then asks the local services."""
    kill_switch(app).request(attempt_ids)
    peek: Callable[[], LocalKills | None] | None = getattr(app, _SERVICES_ATTRIBUTE, None)
    services = peek() if peek is not None else None
    if services is not None:
        services.kill_local_task_runs(list(task_run_ids))


def podium_kill(state: AttributeDict, task_run_ids: list[str], attempt_ids: list[str],
                execution_ids: list[str] | None = None) -> dict[str, str]:
    """Remote control command: stop these task runs in this worker."""
    deliver_kill(state.consumer.app, task_run_ids, attempt_ids)
    relayed = relay_kill(task_run_ids, attempt_ids)
    doomed = _terminate_later(state.consumer.pool, set(attempt_ids), set(execution_ids or ()))
    return {"ok": f"kill requested for {len(task_run_ids)} task run(s), relayed to {relayed} process(es), "
                  f"{doomed} to terminate if still running in {KILL_GRACE_SECONDS:.0f} s"}


# Registered by name (``podium_kill``) in Celery's remote control panel of every worker.
control_command(args=[("task_run_ids", list), ("attempt_ids", list), ("execution_ids", list)],
                signature="<task_run_ids> <attempt_ids> [<execution_ids>]")(podium_kill)


def _terminate_later(pool: BasePool, attempt_ids: set[str], execution_ids: set[str]) -> int:
    """Schedules SIGTERM for the messages running these attempts that still run after the grace;
    how many it found."""
    # Prefork sets terminate_job on the instance when its pool starts; threads and solo keep
    # BasePool's, which raises: the cooperative kill above applies there.
    if getattr(pool.terminate_job, "__func__", None) is BasePool.terminate_job:
        return 0
    running = [request for request in list(worker_state.active_requests)
               if request.id in attempt_ids or _runs_batch_of(request, execution_ids)]
    if running:
        timer = threading.Timer(KILL_GRACE_SECONDS, _terminate, args=(pool, running))
        timer.daemon = True
        timer.start()
    return len(running)


def _terminate(pool: BasePool, requests: list[Request]) -> None:
    active = {id(request) for request in list(worker_state.active_requests)}
    for request in requests:
        if id(request) in active:
            log.warning("task run attempt %s did not stop within %.0f s of its kill; terminating its process",
                        request.id, KILL_GRACE_SECONDS)
            request.terminate(pool, signal="SIGTERM")


def _runs_batch_of(request: Request, execution_ids: set[str]) -> bool:
    """A Podium message running attempts of one of these executions (its own attempt may have
    ended already, a batch's later one runs)."""
    if not execution_ids or request.task_name not in _BATCH_TASKS:
        return False
    kwargs = request.kwargs if isinstance(request.kwargs, dict) else {}
    return kwargs.get("execution_id") in execution_ids


_BATCH_TASKS = frozenset({RUN_TASK_RUN, RUN_TASK_RUNS})
