"""L2 adapter: runs the ``kv`` tasks against the run context's namespace KV store.

Expiry is decided here with the context's clock: an expired key reads as missing in GetKeys and
fails Get (Kestra's ResourceExpiredException), as it does in Kestra.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from engine.durations import parse_duration
from engine.plugins.core.kv import KVDeleteOptions, KVGetKeysOptions, KVGetOptions, KVSetOptions, KVType
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_duration, as_text
from engine.tasks.protocols import KVEntry
from engine.tasks.runner import to_jsonable

KEY_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
BAD_KEY = ("invalid KV key '{key}': a key starts with a letter or a digit and contains only "
           "letters, digits, dots (.), underscores (_) and hyphens (-)")
MISSING = "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"


def run_set(options: KVSetOptions, ctx: RunContext) -> None:
    namespace, key = as_text(ctx, options.namespace, "namespace"), as_text(ctx, options.key, "key")
    if not KEY_PATTERN.match(key):
        raise TaskFailed(BAD_KEY.format(key=key))
    value = ctx.render(options.value, typed=True)
    kv_type = ctx.render_text(options.kv_type) if options.kv_type is not None else None
    if kv_type is not None and isinstance(value, str):
        value = _typed(value, kv_type)
    existing = ctx.kv.get(namespace, key)
    if existing is not None and not existing.is_expired(ctx.now()) and not as_bool(ctx, options.overwrite, "overwrite"):
        raise TaskFailed(f"Cannot set value for key '{key}'. Key already exists and `overwrite` is set to `false`.")
    ttl = as_duration(ctx, options.ttl, "ttl") if options.ttl is not None else None
    ctx.kv.set(namespace, KVEntry(key=key, value=to_jsonable(value),
                                  expiration_date=ctx.now() + ttl if ttl is not None else None,
                                  description=ctx.render_text(options.kv_description),
                                  type=kv_type.upper() if kv_type is not None else None))


def run_get(options: KVGetOptions, ctx: RunContext) -> dict[str, Any]:
    namespace, key = as_text(ctx, options.namespace, "namespace"), as_text(ctx, options.key, "key")
    entry = ctx.kv.get(namespace, key)
    if entry is not None and entry.is_expired(ctx.now()):
        raise TaskFailed(f"The requested value has expired: key '{key}' in namespace '{namespace}' "
                         f"expired at {entry.expiration_date.isoformat() if entry.expiration_date else '?'}")
    if entry is None and as_bool(ctx, options.error_on_missing, "errorOnMissing"):
        raise TaskFailed(MISSING.format(key=key, namespace=namespace))
    return {"value": entry.value if entry is not None else None}


def run_get_keys(options: KVGetKeysOptions, ctx: RunContext) -> dict[str, Any]:
    namespace = as_text(ctx, options.namespace, "namespace")
    prefix = ctx.render_text(options.prefix) or ""
    now = ctx.now()
    keys = [entry.key for entry in ctx.kv.list(namespace, prefix or None)
            if entry.key.startswith(prefix) and not entry.is_expired(now)]
    return {"keys": keys}


def run_delete(options: KVDeleteOptions, ctx: RunContext) -> dict[str, Any]:
    namespace, key = as_text(ctx, options.namespace, "namespace"), as_text(ctx, options.key, "key")
    deleted = ctx.kv.delete(namespace, key)
    if not deleted and as_bool(ctx, options.error_on_missing, "errorOnMissing"):
        raise TaskFailed(MISSING.format(key=key, namespace=namespace))
    return {"deleted": deleted}


def _typed(text: str, kv_type: str) -> Any:
    """Converts a rendered text to ``kvType``, as Kestra's kv.Set does."""
    try:
        kind = KVType(kv_type.upper())
    except ValueError:
        raise TaskFailed(f"invalid kvType '{kv_type}': use one of {', '.join(t.value for t in KVType)}") from None
    try:
        if kind is KVType.NUMBER:
            number = json.loads(text)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ValueError("not a number")
            return number
        if kind is KVType.BOOLEAN:
            return text.strip().lower() == "true"  # Java's Boolean.parseBoolean
        if kind in (KVType.DATETIME, KVType.DATE):
            return _datetime(text)
        if kind is KVType.DURATION:
            return parse_duration(text)
        if kind is KVType.JSON:
            return json.loads(text)
    except ValueError as error:
        raise TaskFailed(f"value '{text}' is not a valid {kind.value}: {error}") from None
    return text


def _datetime(text: str) -> datetime | date:
    cleaned = text.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return date.fromisoformat(cleaned)
