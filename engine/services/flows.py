"""L3: flows in, flows out: deploy sources as revisions, and read a parsed revision back."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from engine.errors import FlowInvalid, NotFound
from engine.loader import load_flow_text, read_flow_file
from engine.model.flow import Flow
from engine.services.runtime import Env
from engine.validation import FlowValidationError

FLOW_SUFFIXES = (".yaml", ".yml")
_CACHE_SIZE = 512


@dataclass(frozen=True)
class Deployed:
    flow: Flow
    revision: int
    created: bool
    path: str | None = None


@dataclass(frozen=True)
class DeployProblem:
    path: str
    message: str


class FlowCatalog:
    """Deploys flow sources and parses stored revisions (parsed revisions are cached: a revision
    never changes once saved)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._cache: OrderedDict[tuple[str, str, int], Flow] = OrderedDict()
        self._lock = Lock()
        # Called with each deployed flow (e.g. ScheduleService.sync_flow plans its triggers).
        self.deploy_hooks: list[Callable[[Flow], None]] = []

    def parse(self, source: str, path: str = "<string>") -> Flow:
        try:
            loaded = load_flow_text(source, self.env.registry, path=path,
                                    global_defaults=self.env.settings.plugin_defaults)
        except FlowValidationError as err:
            raise FlowInvalid([str(p) for p in err.problems]) from None
        return loaded.flow

    def deploy_source(self, source: str, path: str = "<string>") -> Deployed:
        """Validates and saves ``source``; an unchanged source keeps its revision."""
        flow = self.parse(source, path)
        revision, created = self.env.flows.save(flow.namespace, flow.id, source, self.env.clock())
        deployed = Deployed(self._with_revision(flow, revision), revision, created, path)
        for hook in self.deploy_hooks:
            hook(deployed.flow)
        return deployed

    def deploy_file(self, path: Path) -> Deployed:
        try:
            source = read_flow_file(path)
        except FlowValidationError as err:
            raise FlowInvalid(err.problems) from None
        except (OSError, UnicodeDecodeError) as err:
            raise FlowInvalid([f"{path}: cannot read the flow file: {err}"]) from None
        return self.deploy_source(source, str(path))

    def deploy_folder(self, folder: Path) -> tuple[list[Deployed], list[DeployProblem]]:
        """Deploys every flow file under ``folder``; returns what was deployed and what was refused."""
        deployed: list[Deployed] = []
        problems: list[DeployProblem] = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file()):
            try:
                deployed.append(self.deploy_file(path))
            except FlowInvalid as err:
                problems.append(DeployProblem(str(path), str(err)))
        return deployed, problems

    def get(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """The parsed flow at ``revision`` (the latest when None)."""
        if revision is None:  # the latest one's number, then the parsed-revision cache
            latest = self.env.flows.latest_revision(namespace, flow_id)
            if latest is not None and not latest[1]:
                cached = self._cached((namespace, flow_id, latest[0]))
                if cached is not None:
                    return cached
        else:
            cached = self._cached((namespace, flow_id, revision))
            if cached is not None:
                return cached
        stored = self.env.flows.get(namespace, flow_id, revision, allow_deleted=revision is not None)
        if stored is None:
            which = f" revision {revision}" if revision is not None else ""
            raise NotFound(f"flow {namespace}.{flow_id}{which} not found; deploy it with "
                           "`podium flow deploy FILE` first")
        flow = self._with_revision(self.parse(stored.source, f"{namespace}.{flow_id}@{stored.revision}"),
                                   stored.revision)
        with self._lock:
            self._cache[(namespace, flow_id, stored.revision)] = flow
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return flow

    def source(self, namespace: str, flow_id: str, revision: int | None = None) -> str:
        stored = self.env.flows.get(namespace, flow_id, revision, allow_deleted=revision is not None)
        if stored is None:
            raise NotFound(f"flow {namespace}.{flow_id} not found")
        return str(stored.source)

    def _cached(self, key: tuple[str, str, int]) -> Flow | None:
        with self._lock:
            flow = self._cache.get(key)
            if flow is not None:
                self._cache.move_to_end(key)
            return flow

    @staticmethod
    def _with_revision(flow: Flow, revision: int) -> Flow:
        return flow.model_copy(update={"revision": revision})
