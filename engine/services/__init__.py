"""L3 shared use cases: what every process asks of Podium (deploy, start, kill, resume, restart,
replay, schedules, timers, backfills).

``build_services(settings, dispatcher)`` wires the repositories, storage, registry and templating
from one Settings object into :class:`Services`. Each process adds its own entry points around
these (``executor.services.ExecutorServices``, ``worker.services.WorkerServices``); none touches
the database or the executor's decision function directly.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.dispatch import Dispatcher
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import Flow
from engine.persistence import Database
from engine.plugins.registry import default_registry
from engine.services.backfill_runs import BackfillService
from engine.services.executions import ExecutionService, InputsInvalid
from engine.services.flows import Deployed, DeployProblem, FlowCatalog
from engine.services.runtime import Env, utc_now
from engine.services.schedules import ScheduleService
from engine.services.timers import TimerService
from engine.services.watch import FolderWatcher, watch_folder
from engine.settings import Settings
from engine.state import State
from engine.storage.local import LocalStorage

__all__ = ["Services", "build_services", "Deployed", "DeployProblem", "InputsInvalid"]


class Services:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.flows = FlowCatalog(env)
        self.executions = ExecutionService(env, self.flows)
        self.schedules = ScheduleService(env, self.flows, self.executions)
        self.flows.deploy_hooks.append(self.schedules.sync_flow)
        self.timers = TimerService(env, self.executions)
        self.backfills = BackfillService(env, self.flows, self.executions)

    # -- flows ----------------------------------------------------------------------------------
    def deploy_source(self, source: str, path: str = "<string>") -> Deployed:
        return self.flows.deploy_source(source, path)

    def deploy_file(self, path: Path) -> Flow:
        return self.flows.deploy_file(path).flow

    def deploy_folder(self, folder: Path, strict: bool = True) -> tuple[list[Deployed], list[DeployProblem]]:
        return self.flows.deploy_folder(folder)

    def watch_folder(self, folder: Path, **options: Any) -> FolderWatcher:
        """Deploys ``folder`` now and each saved flow file later (see engine/services/watch.py)."""
        return watch_folder(self.flows, folder, **options)

    # -- executions -----------------------------------------------------------------------------
    def start_execution(self, namespace: str, flow_id: str, *, inputs: Mapping[str, Any] | None = None,
                        labels: Mapping[str, Any] | None = None, revision: int | None = None,
                        trigger: ExecutionTrigger | None = None, local_files: bool = False) -> Execution:
        """Starts an execution; ``local_files``: the inputs come from the person at this machine
        (the CLI), whose FILE values may be host paths to upload (ExecutionService.start_execution)."""
        return self.executions.start_execution(namespace, flow_id, inputs=inputs, labels=labels,
                                               revision=revision, trigger=trigger, local_files=local_files)

    def get_execution(self, execution_id: str) -> Execution:
        return self.executions.get(execution_id)

    def execution_logs(self, execution_id: str, min_level: str | None = None) -> list[dict[str, Any]]:
        return self.logs(execution_id, min_level=min_level)

    def execution_metrics(self, execution_id: str) -> list[dict[str, Any]]:
        """The metrics the execution's task runs reported, in Kestra's MetricEntry shape."""
        return [entry.to_json() for entry in self.env.task_metrics.for_execution(execution_id)]

    def logs(self, execution_id: str, min_level: str | None = None) -> list[dict[str, Any]]:
        return [entry.to_json() for entry in self.env.logs.for_execution(execution_id, min_level=min_level)]

    def kill(self, execution_id: str) -> Execution:
        return self.executions.kill(execution_id)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None, *,
               local_files: bool = False) -> Execution:
        return self.executions.resume(execution_id, inputs, local_files=local_files)

    def restart(self, execution_id: str) -> Execution:
        return self.executions.restart(execution_id)

    def replay(self, execution_id: str, task_run_id: str | None = None) -> Execution:
        return self.executions.replay(execution_id, task_run_id)

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> Execution:
        return self.executions.change_task_run_state(execution_id, task_run_id, state)

    def extra_variables(self) -> dict[str, Any]:
        return self.executions.extra_variables()

    # -- process entry points -------------------------------------------------------------------
    def fire_due_timers(self, now: datetime) -> int:
        return self.timers.fire_due(now)

    def reap_expired_leases(self, now: datetime) -> int:
        return self.timers.reap(now)

    def fire_schedules(self, now: datetime) -> int:
        """Fires the due Schedule/ScheduleOnDates triggers (engine/services/schedules.py)."""
        return self.schedules.fire_due(now)

    def advance_backfills(self, now: datetime, per_tick: int = 500) -> int:
        """Moves each active backfill by up to ``per_tick`` fire times (engine/services/backfill_runs.py)."""
        return self.backfills.advance_all(now, per_tick)


def build_services(settings: Settings, dispatcher: Dispatcher, *,
                   clock: Callable[[], datetime] = utc_now, migrate: bool = True) -> Services:
    """Services for one process; creates the data folder and brings the schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if migrate:
        db.upgrade()
    storage = LocalStorage(settings.resolved_storage_dir)
    env = Env(settings=settings, db=db, registry=default_registry(), storage=storage,
              dispatcher=dispatcher, clock=clock)
    services = Services(env)
    bind = getattr(dispatcher, "bind", None)
    if callable(bind):
        bind(services)
    return services

