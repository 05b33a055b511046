"""L3: watch a flows folder and deploy what changes (``podium server local --flows DIR``).

:class:`FolderWatcher` polls the folder (``os.stat`` of every ``.yaml``/``.yml`` file, every
``interval`` seconds, in a daemon thread) and deploys each new or changed file through
:meth:`FlowCatalog.deploy_file`: a changed source becomes a new revision, an unchanged one keeps
its revision. A file that fails validation is reported with its ``file:line:column`` problems and
the previous revision stays live. A deleted file deletes nothing: the flow and its revisions stay
deployed (history is kept). Hidden files and folders (``.name``: editor swap and lock files) are
ignored. Polling needs no dependency and works on every file system (network mounts, Docker
volumes) where change notifications do not.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.errors import FlowInvalid, NotFound
from engine.services.flows import FLOW_SUFFIXES, Deployed, FlowCatalog

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.3
STOP_TIMEOUT_SECONDS = 10.0

EventKind = Literal["deployed", "unchanged", "refused", "deleted", "error"]
#: ``(size, mtime_ns, inode)`` of a file: any save changes at least one of them.
Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class WatchEvent:
    """What happened to one flow file; ``message`` is ready to print."""

    kind: EventKind
    path: str
    message: str
    deployed: Deployed | None = None


@dataclass
class ScanResult:
    events: list[WatchEvent] = field(default_factory=list)

    def of_kind(self, kind: EventKind) -> list[WatchEvent]:
        return [event for event in self.events if event.kind == kind]


Report = Callable[[WatchEvent], None]


def log_event(event: WatchEvent) -> None:
    """The default report: problems as warnings, the rest as info."""
    level = logging.WARNING if event.kind in ("refused", "error") else logging.INFO
    logger.log(level, "%s", event.message)


class FolderWatcher:
    """Deploys the flow files of ``folder`` now (:meth:`start`) and whenever they change, until :meth:`stop`."""

    def __init__(self, catalog: FlowCatalog, folder: Path, *, interval: float = DEFAULT_INTERVAL_SECONDS,
                 report: Report | None = None) -> None:
        self.catalog = catalog
        self.folder = Path(folder)
        self.interval = interval
        self.report = report or log_event
        self._seen: dict[Path, Stamp] = {}
        self._live: dict[Path, Deployed] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: What :meth:`start` deployed and refused.
        self.initial: ScanResult | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> ScanResult:
        """Deploys the folder as it is (synchronously), then watches it in a daemon thread."""
        first = self.initial = self.scan()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"podium-watch-{self.folder.name}", daemon=True)
        self._thread.start()
        return first

    def stop(self) -> None:
        """Stops watching; returns once the thread has ended (a deploy in flight finishes first)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_TIMEOUT_SECONDS)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> FolderWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan()
            except Exception:  # one bad pass (folder gone, disk error) must not end the watch
                logger.exception("watching %s: one pass failed; trying again", self.folder)

    # -- one pass -------------------------------------------------------------------------------
    def scan(self) -> ScanResult:
        """Deploys new and changed files, reports deleted ones; returns what happened."""
        result = ScanResult()
        current = self._stamps()
        for path, stamp in sorted(current.items()):
            if self._seen.get(path) != stamp:
                result.events.append(self._deploy(path, stamp))
        for path in sorted(set(self._seen) - set(current)):
            result.events.append(self._forget(path))
        for event in result.events:
            if event.kind != "unchanged":
                self.report(event)
        return result

    def _stamps(self) -> dict[Path, Stamp]:
        stamps: dict[Path, Stamp] = {}
        if not self.folder.is_dir():
            return stamps
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            for name in files:
                if name.startswith(".") or not name.endswith(FLOW_SUFFIXES):
                    continue
                path = Path(root) / name
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue  # deleted while we looked
                stamps[path] = (info.st_size, info.st_mtime_ns, info.st_ino)
        return stamps

    def _deploy(self, path: Path, stamp: Stamp) -> WatchEvent:
        try:
            deployed = self.catalog.deploy_file(path)
        except FlowInvalid as err:
            self._seen[path] = stamp  # reported once; the next save is checked again
            return WatchEvent("refused", str(path), self._refusal(path, err))
        except Exception as err:  # noqa: BLE001 - e.g. a locked database: retried on the next pass
            self._seen.pop(path, None)
            return WatchEvent("error", str(path), f"{path}: could not deploy ({err}); trying again")
        self._seen[path] = stamp
        self._live[path] = deployed
        name = f"{deployed.flow.namespace}.{deployed.flow.id}"
        if not deployed.created:
            return WatchEvent("unchanged", str(path), f"{path}: {name} unchanged (revision {deployed.revision})",
                              deployed)
        return WatchEvent("deployed", str(path), f"{path}: {name} revision {deployed.revision} deployed", deployed)

    def _refusal(self, path: Path, err: FlowInvalid) -> str:
        live = self._live.get(path)
        keeps = (f"{live.flow.namespace}.{live.flow.id} revision {live.revision} stays live"
                 if live is not None else "nothing deployed from it")
        problems = "\n".join(f"  {problem}" for problem in err.problems)
        return f"{path}: refused, {keeps}; fix and save again:\n{problems}"

    def _forget(self, path: Path) -> WatchEvent:
        self._seen.pop(path, None)
        live = self._live.pop(path, None)
        if live is None:
            return WatchEvent("deleted", str(path), f"{path}: deleted")
        return WatchEvent("deleted", str(path),
                          f"{path}: deleted; flow {live.flow.namespace}.{live.flow.id} stays deployed "
                          f"(revision {live.revision}, history kept)", live)


def watch_folder(catalog: FlowCatalog, folder: Path, *, interval: float = DEFAULT_INTERVAL_SECONDS,
                 report: Report | None = None) -> FolderWatcher:
    """Deploys ``folder`` now and keeps watching it; call ``.stop()`` on the result to end."""
    if not Path(folder).is_dir():
        raise NotFound(f"the flows folder {folder} does not exist; create it or fix the path")
    watcher = FolderWatcher(catalog, folder, interval=interval, report=report)
    watcher.start()
    return watcher
