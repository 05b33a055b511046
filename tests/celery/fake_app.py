"""A Celery app for worker subprocesses in tests: the real plumbing, services that record to a file.

``celery -A tests.celery.fake_app worker ...`` with ``PODIUM_BROKER_URL``, ``PODIUM_DATA_DIR`` and
``PODIUM_TEST_RECORD`` (the JSON-lines file) in the environment.
"""
from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

from cli.embedded import register_tasks
from engine.settings import load_settings
from messaging.celery_app import make_celery
from tests.celery.fakes import RecordingServices

_built: dict[str, Celery] = {}


def __getattr__(name: str) -> Celery:
    if name != "app":
        raise AttributeError(name)
    if "app" not in _built:
        app = make_celery(load_settings())
        register_tasks(app, lambda: RecordingServices(Path(os.environ["PODIUM_TEST_RECORD"])))
        _built["app"] = app
    return _built["app"]
