"""Flow trigger tests reuse the services integration fixtures (real database, inline dispatch)."""
from tests.services.conftest import clock, engine, services, settings  # noqa: F401
