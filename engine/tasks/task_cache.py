"""L2 adapter: ``taskCache`` (Kestra 0.24): a runnable task's outputs reused by later runs.

Kestra's worker (``Worker.run``) and its key, followed here:
- the key is the SHA-256 of the task's properties, every string rendered for this task run
  (``hashTask``), filed under the flow (namespace and id) and the task run's ``value`` (a ForEach
  iteration caches per value): the same task, rendered the same, of the same flow;
- a hit ends the attempt SUCCESS with the cached outputs without running the task; an entry older
  than ``ttl`` is deleted and missed; without ``ttl`` it never expires;
- an attempt that ends SUCCESS or WARNING stores its outputs (replacing the entry, which restarts
  its ``ttl``); a task that cannot be rendered, or a broken entry, runs without the cache.

Entries are files of the internal storage, ``/{ns}/{flow}/taskcache/{key}[/{sha256(value)}]/cache.json``
holding ``{"createdDate": ..., "outputs": ...}``: no table. Outputs were masked when the task ran,
and file URIs in them point at the files of the run that filled the entry.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from engine.durations import parse_duration
from engine.model.task import TaskCache
from engine.plugins.base import PluginSpec
from engine.state import State
from engine.storage import uris
from engine.storage.base import StorageError
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskOutcome
from engine.tasks.runner import run_task

Run = Callable[[PluginSpec, BaseModel, RunContext], TaskOutcome]
_STORED = (State.SUCCESS, State.WARNING)


def run_cached(spec: PluginSpec, options: BaseModel, ctx: RunContext, run: Run = run_task) -> TaskOutcome:
    """``run(spec, options, ctx)``, through the task's cache when its ``taskCache`` is enabled."""
    cache: TaskCache | None = getattr(options, "task_cache", None)
    if cache is None or not cache.enabled:
        return run(spec, options, ctx)
    task_id, level = ctx.task_id, getattr(options, "log_level", None)
    if level is not None:  # the skip line obeys the task's logLevel, as the task's own lines do
        ctx.logger.minimum = level
    uri = _entry_uri(options, ctx)
    if uri is not None:
        outputs = _cached_outputs(ctx, uri, parse_duration(cache.ttl) if cache.ttl else None)
        if outputs is not None:
            ctx.logger.info(f"Skipping task execution for task '{task_id}' as there is an existing cache entry for it")
            return TaskOutcome(State.SUCCESS, outputs)
    outcome = run(spec, options, ctx)
    if uri is not None and outcome.state in _STORED:
        ctx.logger.info(f"Uploading a cache entry for task '{task_id}'")
        _store(ctx, uri, outcome.outputs)
    return outcome


def cache_key(options: BaseModel, ctx: RunContext) -> str:
    """Kestra's hashTask: SHA-256 of the task's properties with every string rendered."""
    properties = options.model_dump(mode="json", by_alias=True, exclude_none=True)
    rendered = ctx.render(properties)
    return hashlib.sha256(json.dumps(rendered, sort_keys=True, default=str).encode()).hexdigest()


def _entry_uri(options: BaseModel, ctx: RunContext) -> str | None:
    try:
        key = cache_key(options, ctx)
    except Exception as error:  # noqa: BLE001 - as Kestra: a task whose key cannot be computed runs uncached
        ctx.logger.error(f"Unable to create the cache key for the task '{ctx.task_id}': {error}")
        return None
    parts = [*uris.namespace_parts(ctx.namespace), ctx.flow_id, "taskcache", key]
    if ctx.identity.value is not None:
        parts.append(hashlib.sha256(ctx.identity.value.encode()).hexdigest())
    return uris.from_segments([*parts, "cache.json"])


def _cached_outputs(ctx: RunContext, uri: str, ttl: timedelta | None) -> dict[str, Any] | None:
    try:
        if not ctx.storage.exists(uri):
            return None
        entry = json.loads(ctx.storage.get(uri))
        created = datetime.fromisoformat(entry["createdDate"])
        if ttl is not None and ctx.now() > created + ttl:
            ctx.storage.delete(uri)
            return None
        outputs = entry["outputs"]
        if not isinstance(outputs, dict):
            raise ValueError("its outputs are not a map")
        return outputs
    except (StorageError, OSError, ValueError, KeyError, TypeError) as error:
        ctx.logger.error(f"Unexpected exception while loading the cache for task '{ctx.task_id}', "
                         f"the task will be executed instead: {error}")
        return None


def _store(ctx: RunContext, uri: str, outputs: dict[str, Any]) -> None:
    entry = {"createdDate": ctx.now().isoformat(), "outputs": outputs}
    try:
        ctx.storage.put(uri, json.dumps(entry).encode())
    except (StorageError, OSError) as error:
        ctx.logger.error(f"Unexpected exception while uploading the cache entry for task '{ctx.task_id}', "
                         f"the task will not be cached: {error}")
