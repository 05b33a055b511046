"""L2 adapter: runs the ``kv`` tasks against the run context's namespace KV store.

Expiry is decided here with the context's clock: an expired key reads as missing in GetKeys and
fails Get (Kestra's ResourceExpiredException), as it does in Kestra. PurgeKV reaches only the
flow's namespace and its children: a flow author is not an administrator of other namespaces.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.durations import parse_duration
from engine.plugins.core.kv import (
    NAMESPACE_FILTERS,
    KeyPurge,
    KVDeleteOptions,
    KVGetKeysOptions,
    KVGetOptions,
    KVSetOptions,
    KVType,
    PurgeBehavior,
    PurgeKVOptions,
    VersionPurge,
)
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_duration, as_list, as_text
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


def run_purge(options: PurgeKVOptions, ctx: RunContext) -> dict[str, Any]:
    """Deletes the keys the behaviour selects in the namespaces it resolves; outputs ``size``."""
    namespaces = _purged_namespaces(options, ctx)
    ctx.logger.info(f"purging {len(namespaces)} namespaces: [{', '.join(namespaces)}]")
    behavior = _purge_behavior(options, ctx)
    key_pattern = (ctx.render_text(options.key_pattern) or "").strip() if options.key_pattern else ""
    now, count = ctx.now(), 0
    for namespace in namespaces:
        for entry in ctx.kv.list(namespace):
            if _purged(entry, behavior, now) and (not key_pattern or wildcard_match(entry.key, key_pattern)):
                count += ctx.kv.delete(namespace, entry.key)
    ctx.logger.info(f"purged {count} keys")
    return {"size": count}


def _purged_namespaces(options: PurgeKVOptions, ctx: RunContext) -> list[str]:
    """Kestra's PurgeTask.findNamespaces, within the flow's namespace tree."""
    own = ctx.namespace
    named = [str(n) for n in as_list(ctx, options.namespaces, "namespaces")] if options.namespaces else []
    pattern = ctx.render_text(options.namespace_pattern) if options.namespace_pattern else None
    if named and pattern and pattern.strip():
        raise TaskFailed(NAMESPACE_FILTERS)
    outside = [n for n in named if not in_tree(n, own)]
    if outside:
        raise TaskFailed(f"PurgeKV can purge only the flow's namespace '{own}' and its child namespaces; "
                         f"{', '.join(repr(n) for n in outside)} is outside it: run it from a flow of that "
                         f"namespace, or use `podium kv delete`")
    existing = ctx.kv.namespaces(own)
    if pattern and pattern.strip():
        return [n for n in existing if wildcard_match(n, pattern)]
    if not named:
        return existing
    if as_bool(ctx, options.include_child_namespaces, "includeChildNamespaces"):
        found = [n for n in existing if any(in_tree(n, parent) for parent in named)]
    else:
        found = [n for n in existing if n in named]
    return found + [n for n in named if n not in found]  # a named namespace without keys yet counts


def _purge_behavior(options: PurgeKVOptions, ctx: RunContext) -> KeyPurge | VersionPurge:
    if options.expired_only is not None:  # deprecated, and wins over behavior (Kestra)
        return KeyPurge(type="key", expired_only=as_bool(ctx, options.expired_only, "expiredOnly"))
    raw = options.behavior
    if raw is None:
        return KeyPurge(type="key", expired_only=True)
    try:
        if isinstance(raw, str):
            rendered = ctx.render(raw, typed=True)
            raw = json.loads(rendered) if isinstance(rendered, str) else rendered
        behavior: KeyPurge | VersionPurge = TypeAdapter(PurgeBehavior).validate_python(raw)
    except json.JSONDecodeError:
        raise TaskFailed("property 'behavior' must render to a map such as {\"type\": \"key\"}") from None
    except ValidationError as error:
        raise TaskFailed(f"property 'behavior' is not a purge behavior ({{type: key}} or {{type: version}}): "
                         f"{error.errors()[0]['msg']}") from None
    return behavior


def _purged(entry: KVEntry, behavior: KeyPurge | VersionPurge, now: datetime) -> bool:
    if isinstance(behavior, KeyPurge):
        return not behavior.expired_only or entry.is_expired(now)
    # One version per key, the latest: `before` never deletes it; `keepAmount` keeps it unless 0.
    if behavior.before is not None:
        return False
    return behavior.keep_amount is None or behavior.keep_amount == 0


def in_tree(namespace: str, root: str) -> bool:
    """Whether ``namespace`` is ``root`` or one of its children (``root.x``, ``root.x.y``)."""
    return namespace == root or namespace.startswith(root + ".")


def wildcard_match(text: str, pattern: str) -> bool:
    """Kestra's FilenameUtils.wildcardMatch: ``*`` any characters, ``?`` one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


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
