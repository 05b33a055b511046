"""The test-service helpers themselves: skip locally, fail in CI; Redis really answers."""
from __future__ import annotations

import pytest

from tests.servers import REQUIRE_ENV, RedisServer, require_service


def test_missing_service_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_service("no server")


def test_missing_service_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no server"):
        require_service("no server")


def test_redis_server_is_ours_and_flushed(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.is_ours()
    assert redis_server.command("SET", "k", "v").startswith(b"+OK")
    assert redis_server.command("DBSIZE").strip() == b":1"
    redis_server.command("FLUSHALL")
    assert redis_server.command("DBSIZE").strip() == b":0"
