"""L4: how a kill request reaches the worker running a task run.

``CeleryDispatcher.kill_task_runs`` does two things:

1. ``revoke`` of the Celery task ids (``celery_task_id(ref)``): a worker drops a revoked message
   when it arrives, so task runs that were queued (or later links of a chain) never start; with
   ``terminate=True`` a prefork worker also signals the child process running it. The threads
   pool cannot stop a running thread, so there:
2. the ``podium_kill`` remote control command marks the task run ids in the worker's
   :class:`KillSwitch`; ``podium.run_task_run`` skips a marked task run, and a runner may poll
   :meth:`KillSwitch.is_killed` between steps to stop cooperatively.

Both travel as broadcasts (Redis, ``podium-fs://``). With the embedded ``memory://`` broker the
worker lives in the same process, so the dispatcher marks the switch and Celery's revoked set
directly instead of broadcasting.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Iterable

from celery import Celery
from celery.worker.control import control_command

KILL_COMMAND = "podium_kill"
_APP_ATTRIBUTE = "podium_kill_switch"


class KillSwitch:
    """Task run ids asked to stop, remembered (bounded) so a late message is still skipped."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def request(self, task_run_ids: Iterable[str]) -> None:
        with self._lock:
            for task_run_id in task_run_ids:
                self._ids[task_run_id] = None
                self._ids.move_to_end(task_run_id)
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)

    def is_killed(self, task_run_id: str) -> bool:
        with self._lock:
            return task_run_id in self._ids


def kill_switch(app: Celery) -> KillSwitch:
    """The kill switch of ``app`` (one per app, created on first use)."""
    switch = getattr(app, _APP_ATTRIBUTE, None)
    if switch is None:
        switch = KillSwitch()
        setattr(app, _APP_ATTRIBUTE, switch)
    return switch


@control_command(args=[("task_run_ids", list)], signature="<task_run_id> [<task_run_id> ...]")
def podium_kill(state: Any, task_run_ids: list[str]) -> dict[str, str]:
    """Remote control command: mark task runs as killed in this worker."""
    kill_switch(state.consumer.app).request(task_run_ids)
    return {"ok": f"kill requested for {len(task_run_ids)} task run(s)"}
