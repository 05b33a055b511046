"""L2 adapter: legacy state documents (``state.Set/Get/Delete``) kept in internal storage.

Layout, as Kestra's ``StorageContext``: ``/{ns}[/{flow}]/states/{name}[/{hash(value)}]/tasks-states.json``
(no flow part when the state is shared by the namespace; the hash part when it is kept per
``taskrun.value``). The document is a JSON object.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.storage import uris
from engine.storage.base import Storage, StoragePathError
from engine.tasks.protocols import StateKey

FILE_NAME = "tasks-states.json"


class StorageStateStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def uri(self, key: StateKey) -> str:
        parts = uris.namespace_parts(key.namespace)
        if key.flow_id is not None:
            parts.append(key.flow_id)
        parts += ["states", key.name]
        if key.value is not None:
            # a hash keeps any iteration value (spaces, slashes, JSON) one short path segment
            parts.append(hashlib.sha256(key.value.encode("utf-8")).hexdigest()[:32])
        try:
            return uris.from_segments([*parts, FILE_NAME])
        except StoragePathError:
            raise ValueError(f"invalid state name '{key.name}': use letters, digits, '.', '_' or '-'") from None

    def get(self, key: StateKey) -> dict[str, Any] | None:
        uri = self.uri(key)
        if not self._storage.exists(uri):
            return None
        data = json.loads(self._storage.get(uri).decode("utf-8"))
        return data if isinstance(data, dict) else {}

    def put(self, key: StateKey, data: dict[str, Any]) -> str:
        return self._storage.put(self.uri(key), json.dumps(data).encode("utf-8"))

    def delete(self, key: StateKey) -> bool:
        return self._storage.delete(self.uri(key))

