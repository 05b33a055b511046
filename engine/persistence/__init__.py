"""L2 adapter: the database (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL in production).

See docs/persistence.md. Repositories take a :class:`Database` and return engine records. The
services layer imports from here (the handle, the ``Session`` type, the records and repositories),
never the tables, the SQL helpers or SQLAlchemy itself (tests/test_layering.py).

The names are loaded on first use (PEP 562), so that a command reading one table imports one
repository, not all of them.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.persistence.base import NotFound, PersistenceError, Session
    from engine.persistence.db import Database
    from engine.persistence.execution_writes import SaveStats
    from engine.persistence.executions import ExecutionNotFound, ExecutionRepository, LockedExecution, Page
    from engine.persistence.flows import FlowNotFound, FlowRepository, FlowRevision
    from engine.persistence.kv_entries import KVExpired, KVRepository, KVValue
    from engine.persistence.logs import LogEntry, LogRepository
    from engine.persistence.timers import QueueRepository, Timer, TimerRepository
    from engine.persistence.triggers import FiredRepository, TriggerState, TriggerStateRepository

__all__ = [
    "Database", "ExecutionNotFound", "ExecutionRepository", "FiredRepository", "FlowNotFound",
    "FlowRepository", "FlowRevision", "KVExpired", "KVRepository", "KVValue", "LockedExecution",
    "LogEntry", "LogRepository", "NotFound", "Page", "PersistenceError", "QueueRepository",
    "SaveStats", "Session", "Timer", "TimerRepository", "TriggerState", "TriggerStateRepository",
]

# The submodule that defines each public name.
_HOMES = {
    "NotFound": "base", "PersistenceError": "base", "Session": "base", "Database": "db",
    "SaveStats": "execution_writes", "ExecutionNotFound": "executions", "ExecutionRepository": "executions",
    "LockedExecution": "executions", "Page": "executions", "FlowNotFound": "flows", "FlowRepository": "flows",
    "FlowRevision": "flows", "KVExpired": "kv_entries", "KVRepository": "kv_entries", "KVValue": "kv_entries",
    "LogEntry": "logs", "LogRepository": "logs", "QueueRepository": "timers", "Timer": "timers",
    "TimerRepository": "timers", "FiredRepository": "triggers", "TriggerState": "triggers",
    "TriggerStateRepository": "triggers",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
