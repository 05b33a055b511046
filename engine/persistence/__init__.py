"""L2 adapter: the database (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL in production).

See docs/persistence.md. Repositories take a :class:`Database` and return engine records.
"""
from engine.persistence.base import NotFound, PersistenceError
from engine.persistence.db import Database
from engine.persistence.executions import (ExecutionNotFound, ExecutionRepository,
                                           LockedExecution, Page, SaveStats)
from engine.persistence.flows import FlowNotFound, FlowRepository, FlowRevision

__all__ = [
    "Database", "ExecutionNotFound", "ExecutionRepository", "FlowNotFound", "FlowRepository",
    "FlowRevision", "LockedExecution", "NotFound", "Page", "PersistenceError", "SaveStats",
]
