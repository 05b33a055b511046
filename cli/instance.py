"""L4: a private Podium instance (services + in-process Celery worker and beat) for one command.

``podium run`` uses it: the instance lives as long as the command, so it runs on the in-process
``memory://`` broker (about 10 ms per hop) whatever the settings name; a server's podium-fs://
or Redis broker is never touched, even when ``--data-dir`` points at that server's folder.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli.client import settings_from

if TYPE_CHECKING:
    from engine.dispatch import Dispatcher
    from engine.services import Services
    from engine.settings import Settings


@dataclass
class Instance:
    settings: Settings
    services: Services


@contextmanager
def open_instance(data_dir: Path | None = None, settings: Settings | None = None, *,
                  broker_url: str | None = None) -> Iterator[Instance]:
    """Starts Podium in this process on ``broker_url`` (an embedded one, by default the in-process
    ``memory://``); stops it on exit."""
    # Celery and the services are only imported by the commands that run flows.
    from cli.embedded import EmbeddedRuntime
    from engine.services import build_services
    from engine.settings import IN_PROCESS_BROKER_URL

    if settings is None:
        settings = settings_from(None, data_dir)
    settings = settings.model_copy(update={"broker_url": broker_url or IN_PROCESS_BROKER_URL})

    def provide(dispatcher: Dispatcher) -> Services:
        return build_services(settings, dispatcher)

    with EmbeddedRuntime(settings, provide) as runtime:
        yield Instance(settings, runtime.services)
