"""L1 pure core: options and specs of the ``kv`` tasks (Set, Get, GetKeys, Delete, PurgeKV).

Run by :mod:`engine.tasks.kv_tasks` through the run context's namespace KV store.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from engine.kv_types import KVType as KVType  # re-exported: the KV tasks' public type
from engine.model.task import Duration, TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.core.kv."
FLOW_NAMESPACE = "{{ flow.namespace }}"


class KVSetOptions(TaskOptions):
    key: str = dynamic(..., "The key to set.")
    value: Any = dynamic(..., "The value; rendered, and typed by `kvType` when it renders to text.")
    namespace: str = dynamic(FLOW_NAMESPACE, "Namespace of the KV store; the flow's by default.")
    overwrite: DynBool = dynamic(True, "Fail instead of replacing when the key already exists.")
    ttl: Duration | None = dynamic(None, "Time to live; the key expires after it.")
    kv_type: KVType | str | None = dynamic(None, "STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON.")
    kv_description: str | None = dynamic(None, "Description of the entry.")


class KVGetOptions(TaskOptions):
    key: str = dynamic(..., "The key to read.")
    namespace: str = dynamic(FLOW_NAMESPACE, "Namespace of the KV store; the flow's by default.")
    error_on_missing: DynBool = dynamic(False, "Fail when the key does not exist.")


class KVGetKeysOptions(TaskOptions):
    prefix: str | None = dynamic(None, "Only keys starting with this prefix.")
    namespace: str = dynamic(FLOW_NAMESPACE, "Namespace of the KV store; the flow's by default.")


class KVDeleteOptions(TaskOptions):
    key: str = dynamic(..., "The key to delete.")
    namespace: str = dynamic(FLOW_NAMESPACE, "Namespace of the KV store; the flow's by default.")
    error_on_missing: DynBool = dynamic(False, "Fail when the key does not exist.")


NAMESPACE_FILTERS = ("Properties `namespaces` and `namespacePattern` can't be used at the same time "
                     "— use one or the other.")


class KeyPurge(Options):
    """Purge whole keys; by default only the expired ones."""

    type: Literal["key"]
    expired_only: bool = Field(True, description="Only keys whose TTL has passed.")


class VersionPurge(Options):
    """Purge old versions of each key. Podium keeps one version of a key (its latest), which this
    behaviour never deletes with `before`; `keepAmount: 0` or neither property deletes every key."""

    type: Literal["version"]
    before: str | None = Field(None, description="Only versions older than this date.")
    keep_amount: int | None = Field(None, ge=0, description="Keep the latest N versions of each key.")


PurgeBehavior = Annotated[KeyPurge | VersionPurge, Field(discriminator="type")]


class PurgeKVOptions(TaskOptions):
    key_pattern: str | None = dynamic(None, "Only keys matching this glob (`*`, `?`), e.g. `AI_*`.")
    namespaces: list[str] | str | None = dynamic(
        None, "Namespaces to purge: the flow's namespace or its children; the flow's tree when unset.")
    namespace_pattern: str | None = dynamic(None, "Glob over the flow's namespace and its children.")
    behavior: PurgeBehavior | str | None = dynamic(
        None, "`{type: key, expiredOnly: true}` (the default) or `{type: version, before, keepAmount}`.")
    include_child_namespaces: DynBool = dynamic(True, "With `namespaces`, purge their child namespaces too.")
    expired_only: DynBool | None = dynamic(None, "Deprecated: `behavior: {type: key, expiredOnly: ...}`; wins over it.")

    @model_validator(mode="after")
    def _one_namespace_filter(self) -> PurgeKVOptions:
        if isinstance(self.namespaces, list) and self.namespaces and self.namespace_pattern:
            raise ValueError(NAMESPACE_FILTERS)
        return self


SPECS: list[PluginSpec] = [
    PluginSpec(type=PREFIX + "Set", kind=PluginKind.RUNNABLE, options=KVSetOptions,
               title="Create or modify a key-value pair.", implementation="engine.tasks.kv_tasks:run_set",
               examples=('key: orders_file\nvalue: "{{ outputs.http_download.uri }}"\nkvType: STRING',)),
    PluginSpec(type=PREFIX + "Get", kind=PluginKind.RUNNABLE, options=KVGetOptions,
               title="Get the value of a key.", implementation="engine.tasks.kv_tasks:run_get",
               examples=("key: my_key\nerrorOnMissing: true",)),
    PluginSpec(type=PREFIX + "GetKeys", kind=PluginKind.RUNNABLE, options=KVGetKeysOptions,
               title="List the keys of a namespace, optionally by prefix.",
               implementation="engine.tasks.kv_tasks:run_get_keys", examples=("prefix: orders_",)),
    PluginSpec(type=PREFIX + "Delete", kind=PluginKind.RUNNABLE, options=KVDeleteOptions,
               title="Delete a key.", implementation="engine.tasks.kv_tasks:run_delete",
               examples=("key: my_key",)),
    PluginSpec(type=PREFIX + "PurgeKV", kind=PluginKind.RUNNABLE, options=PurgeKVOptions,
               title="Delete keys of the flow's namespace and its children: the expired ones by default.",
               implementation="engine.tasks.kv_tasks:run_purge",
               examples=("expiredOnly: true\nnamespaces:\n  - company\nincludeChildNamespaces: true",)),
]
