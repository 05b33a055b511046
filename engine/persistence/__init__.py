"""L2 adapter: the database (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL in production).

See docs/persistence.md. Repositories take a :class:`Database` and return engine records. The
services layer imports from here (the handle, the ``Session`` type, the records and repositories),
never the tables, the SQL helpers or SQLAlchemy itself (tests/test_layering.py).
"""
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
