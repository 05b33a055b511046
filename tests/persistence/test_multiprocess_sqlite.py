"""Several processes (executor, worker, beat) sharing one SQLite file through the lock."""
from __future__ import annotations

import multiprocessing

import pytest

from engine.persistence.db import Database
from engine.persistence.executions import ExecutionRepository
from tests.persistence.factories import execution


def _add(url: str, execution_id: str, times: int) -> None:
    database = Database(url)
    repo = ExecutionRepository(database)
    for _ in range(times):
        with repo.lock(execution_id) as locked:
            count = int(locked.execution.variables.get("count", 0))
            locked.save(locked.execution.model_copy(update={"variables": {"count": count + 1}}))
    database.dispose()


@pytest.mark.slow
def test_processes_sharing_a_sqlite_file_lose_no_update(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    repo = ExecutionRepository(database)
    created = execution()
    repo.create(created)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add, args=(sqlite_url, created.id, 30)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0, 0, 0]
    stored = repo.get(created.id)
    assert stored is not None and stored.variables["count"] == 90
    database.dispose()
