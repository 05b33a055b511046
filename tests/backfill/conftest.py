"""Backfill fixtures: the services suite's inline engine (SQLite and PostgreSQL, fake clock)."""
from __future__ import annotations

from tests.services.conftest import Engine, FakeClock, clock, engine, services, settings

__all__ = ["Engine", "FakeClock", "clock", "engine", "services", "settings"]
