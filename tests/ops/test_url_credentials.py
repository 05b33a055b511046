"""Credentials in URLs: the one ``without_password``, free text, ``/health`` and the log formatter."""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from engine.credentials import mask_credentials, without_password
from engine.health import health_report
from engine.log_config import configure_logging

# Built at run time: a traceback prints the source lines around each frame, never a value.
PASSWORD = "-".join(["hunter", "22"])


@pytest.mark.parametrize("url, shown", [
    ("redis://:s3cret@host:6379/0", "redis://***@host:6379/0"),
    ("redis://user:s3cret@host:6379/0", "redis://user:***@host:6379/0"),
    ("redis://user@host:6379/0", "redis://user@host:6379/0"),
    ("postgresql+psycopg://app:p@ss/w0rd@db:5432/podium", "postgresql+psycopg://app:***@db:5432/podium"),
    ("postgresql+psycopg://app@db/podium?sslmode=require&password=s3cret",
     "postgresql+psycopg://app@db/podium?sslmode=require&password=***"),
    ("https://h/x?token=t0k&access_key=AK&secret=S&api-key=K&key=&page=2#top",
     "https://h/x?token=***&access_key=***&secret=***&api-key=***&key=&page=2#top"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=AK%2F2026&X-Amz-Signature=abc&X-Amz-Date=2026",
     "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=2026"),
    ("sqlite:////var/lib/podium/podium.db", "sqlite:////var/lib/podium/podium.db"),
    ("podium-fs://", "podium-fs://"),
    ("not a url", "not a url"),
])
def test_without_password_hides_user_info_passwords_and_credential_parameters(url: str, shown: str) -> None:
    assert without_password(url) == shown


def test_mask_credentials_hides_every_url_and_password_pair_of_a_text() -> None:
    text = ("could not reach 'redis://:s3cret@10.0.0.1:6379/0' nor postgresql://u:hunter22@db/x?password=hunter22; "
            "dsn host=db password=hunter22 user=u, PGPASSWORD='hunter 22' DB_SECRET=abc")
    masked = mask_credentials(text)
    assert "s3cret" not in masked and "hunter" not in masked and "abc" not in masked, masked
    assert "redis://***@10.0.0.1:6379/0" in masked and "user=u" in masked


def test_health_hides_credentials_in_reasons_and_extras() -> None:
    def database() -> None:
        raise ConnectionError("cannot connect to postgresql://podium:hunter22@db:5432/podium")

    body = health_report({"database": database}, broker_url="redis://:s3cret@h:6379/0?password=s3cret")
    assert body == {"status": "DOWN", "database": "DOWN: cannot connect to postgresql://podium:***@db:5432/podium",
                    "broker_url": "redis://***@h:6379/0?password=***"}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_log_lines_and_tracebacks_show_no_credentials(log_format: str, restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(log_format, "INFO", process="beat", stream=stream)
    log = logging.getLogger("podium.test")
    log.warning("broker redis://:s3cret@h:6379/0 unreachable")
    try:
        connect_args = {"host": "db", "password": PASSWORD}  # a local a rich traceback would print
        raise ConnectionError(f"connection to postgresql://u:{PASSWORD}@db failed ({len(connect_args)} args)")
    except ConnectionError:
        log.exception("beat tick failed")
    printed = stream.getvalue()
    assert "s3cret" not in printed and PASSWORD not in printed, printed
    assert "redis://***@h:6379/0" in printed and "postgresql://u:***@db" in printed and "Traceback" in printed
