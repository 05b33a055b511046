"""tests/beat reuses the services harness: real services on SQLite and PostgreSQL, inline
dispatch, and a FakeClock that only moves when a test moves it."""
from tests.services.conftest import clock, engine, services, settings  # noqa: F401
