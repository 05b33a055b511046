"""Process logs: JSON lines with the bound ids; Celery's per-message lines only at DEBUG."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from engine.log_config import bind_ids, configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Starts from untouched Celery loggers (an embedded runtime quiets them) and puts all back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    celery = [logging.getLogger(name) for name in ("celery", "celery.app.trace", "celery.worker.strategy")]
    levels = [logger.level for logger in celery]
    for logger in celery:
        logger.setLevel(logging.NOTSET)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, old in zip(celery, levels, strict=True):
        logger.setLevel(old)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_at_info_celery_per_message_lines_are_left_out_but_its_errors_and_podium_lines_are_kept(
        restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", process="worker", stream=stream)
    with bind_ids(execution_id="e1", task_run_id="r1"):
        logging.getLogger("podium.worker").info("task run ended")
    logging.getLogger("celery.worker.strategy").info("Task podium.run_task_run[r1.1] received")
    logging.getLogger("celery.app.trace").info("Task podium.run_task_run[r1.1] succeeded in 0.01s")
    logging.getLogger("celery.app.trace").error("Task podium.run_task_run[r1.1] raised unexpected")
    lines = _lines(stream)
    assert [line["event"] for line in lines] == ["task run ended", "Task podium.run_task_run[r1.1] raised unexpected"]
    assert lines[0]["execution_id"] == "e1" and lines[0]["process"] == "worker"


def test_at_debug_celery_per_message_lines_are_kept(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    logging.getLogger("celery.app.trace").info("Task podium.process_event[x] succeeded in 0.01s")
    assert [line["event"] for line in _lines(stream)] == ["Task podium.process_event[x] succeeded in 0.01s"]
