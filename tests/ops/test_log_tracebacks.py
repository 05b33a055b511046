"""A logged exception is a plain traceback: cheap to render while a broker restart makes every
thread of a process log one (docs/reliability.md, "Redis restarted")."""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from engine.log_config import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_an_exception_is_logged_as_a_plain_traceback_without_locals(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("console", "INFO", process="worker", stream=stream)
    secret_local = "held-in-a-frame"  # noqa: F841 - a rich traceback would print this local
    try:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    except ConnectionError:
        logging.getLogger("podium.worker").warning("could not announce results", exc_info=True)
    text = stream.getvalue()
    assert "could not announce results" in text
    assert "Traceback (most recent call last):" in text
    assert "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused." in text
    assert "held-in-a-frame" not in text and "╭" not in text  # no locals, no panels
