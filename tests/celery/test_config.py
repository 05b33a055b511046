"""make_celery: the configuration every Podium process relies on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

from engine.dispatch import DEFAULT_QUEUE, EXECUTOR_QUEUE
from engine.settings import Settings
from messaging.celery_app import PROCESS_EVENT, REDIS_VISIBILITY_TIMEOUT_SECONDS, RUN_TASK_RUN, make_celery

ROOT = Path(__file__).resolve().parents[2]

MEMORY = Settings(broker_url="memory://")  # the in-process broker; the default is podium-fs://


def test_reliability_settings() -> None:
    conf = make_celery(MEMORY).conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_serializer == "json" and list(conf.accept_content) == ["json"]
    assert conf.result_backend is None and conf.task_ignore_result is True
    assert conf.broker_connection_retry_on_startup is True


def test_queues_and_routes() -> None:
    app = make_celery(MEMORY)
    assert {queue.name for queue in app.conf.task_queues} == {EXECUTOR_QUEUE, DEFAULT_QUEUE}
    router = app.amqp.router
    assert router.route({}, PROCESS_EVENT)["queue"].name == EXECUTOR_QUEUE
    assert router.route({}, RUN_TASK_RUN)["queue"].name == DEFAULT_QUEUE
    # A worker group is just a queue name, created on demand.
    assert router.route({"queue": "gpu"}, RUN_TASK_RUN)["queue"].name == "gpu"


def test_broker_from_settings_and_transport_options(tmp_path: Path) -> None:
    memory = make_celery(MEMORY)
    assert memory.conf.broker_url == "memory://"
    default = Settings(data_dir=tmp_path)
    assert default.resolved_broker_url == "podium-fs://" and default.is_embedded_broker
    assert not default.is_in_process_broker and MEMORY.is_in_process_broker and MEMORY.is_embedded_broker
    assert not Settings(broker_url="redis://h:1/0").is_embedded_broker
    assert memory.conf.broker_transport_options["polling_interval"] <= 0.02
    redis = make_celery(Settings(broker_url="redis://127.0.0.1:1/0"))
    assert redis.conf.broker_transport_options["visibility_timeout"] == REDIS_VISIBILITY_TIMEOUT_SECONDS
    files = make_celery(Settings(broker_url="podium-fs://", data_dir=tmp_path))
    assert TRANSPORT_ALIASES["podium-fs"] == "messaging.fs_transport:Transport"
    assert Path(files.conf.broker_transport_options["data_folder_in"]).is_dir()
    assert str(tmp_path.resolve() / "broker") in files.conf.broker_transport_options["control_folder"]


def test_each_call_makes_a_separate_app() -> None:
    first, second = make_celery(MEMORY), make_celery(Settings(broker_url="redis://x:1/0"))
    assert first is not second and first.conf.broker_url != second.conf.broker_url


def test_module_app_is_lazy_and_has_the_tasks() -> None:
    code = ("import sys, worker.celery_app as m\n"
            "assert 'celery' in sys.modules\n"
            "assert 'app' not in vars(m)\n"  # nothing built at import: the module's __getattr__ builds it
            "from celery import Celery; app = m.app; assert isinstance(app, Celery) and m.app is app\n"
            "print(sorted(t for t in app.tasks if t.startswith('podium.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PODIUM_BROKER_URL": "memory://"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['podium.run_task_run', 'podium.run_task_runs']"


def test_tasks_are_not_shared_with_other_apps() -> None:
    from cli.embedded import register_tasks
    from tests.celery.fakes import FakeServices

    app = make_celery(MEMORY)
    register_tasks(app, FakeServices)
    other = Celery("other", set_as_current=False)
    assert RUN_TASK_RUN in app.tasks and RUN_TASK_RUN not in other.tasks
