"""L4: an embedded Podium instance (services + in-process Celery worker and beat) for one command."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from engine.settings import Settings, load_settings

if TYPE_CHECKING:
    from engine.services import Services


@dataclass
class Instance:
    settings: Settings
    services: "Services"


@contextmanager
def open_instance(data_dir: Path | None = None, settings: Settings | None = None) -> Iterator[Instance]:
    """Starts Podium in this process on the embedded broker; stops it on exit."""
    # Celery and the services are only imported by the commands that run flows.
    from engine.services import build_services
    from worker.embedded import EmbeddedRuntime

    if settings is None:
        settings = load_settings(**({"data_dir": data_dir} if data_dir is not None else {}))

    def provide(dispatcher: Any) -> "Services":
        return build_services(settings, dispatcher)

    with EmbeddedRuntime(settings, provide) as runtime:
        yield Instance(settings, runtime.services)
