"""The engine's integration suite (real services, real databases, inline dispatch).

The throwaway PostgreSQL and Redis servers the tests start live in ``tests/servers.py``.
"""
