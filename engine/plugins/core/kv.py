"""L1 pure core: options and specs of the ``kv`` tasks (Set, Get, GetKeys, Delete).

Run by :mod:`engine.tasks.kv_tasks` through the run context's namespace KV store.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from engine.model.task import Duration, TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool

PREFIX = "io.kestra.plugin.core.kv."
FLOW_NAMESPACE = "{{ flow.namespace }}"


class KVType(str, Enum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


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
]
