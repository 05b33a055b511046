"""L1 pure core: which namespaces' KV store a flow may reach.

Kestra lets a namespace inherit the KV store of its parent namespaces and governs any other one
with an allow-list, open in its open-source edition. A Podium flow author is not an
administrator, so the list is closed: a flow reaches its own namespace, its parents (inherited,
as in Kestra) and its children (a namespace owns the tree below it, the tree ``kv.PurgeKV``
cleans). A sibling or an unrelated namespace is refused; an operator uses ``podium kv``.
"""
from __future__ import annotations

from engine.errors import PodiumError
from engine.namespaces import in_lineage
from engine.tasks.protocols import KVEntry, KVStore

__all__ = ["KVAccessDenied", "NamespaceKV", "check_kv_access"]


class KVAccessDenied(PodiumError, PermissionError):
    """A flow named a KV namespace outside its own namespace's tree."""


def check_kv_access(namespace: str, reader: str | None) -> None:
    """Raises :class:`KVAccessDenied` unless a flow of ``reader`` may reach ``namespace``'s KV.
    ``reader`` None: no flow is known (a bare renderer), so no namespace is reachable."""
    if reader is not None and in_lineage(namespace, reader):
        return
    source = f"a flow of namespace '{reader}'" if reader is not None else "an expression outside any flow"
    raise KVAccessDenied(
        f"Cannot access the KV store of namespace '{namespace}' from {source}: a flow reaches the KV "
        "store of its own namespace, its parent namespaces and its child namespaces only")


class NamespaceKV:
    """A :class:`KVStore` seen from a flow of ``reader``: every call checks the namespace first."""

    def __init__(self, store: KVStore, reader: str) -> None:
        self._store, self._reader = store, reader

    def get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_access(namespace, self._reader)
        return self._store.get(namespace, key)

    def set(self, namespace: str, entry: KVEntry) -> None:
        check_kv_access(namespace, self._reader)
        self._store.set(namespace, entry)

    def delete(self, namespace: str, key: str) -> bool:
        check_kv_access(namespace, self._reader)
        return self._store.delete(namespace, key)

    def namespaces(self, within: str) -> list[str]:
        check_kv_access(within, self._reader)
        return self._store.namespaces(within)

    def list(self, namespace: str, prefix: str | None = None) -> list[KVEntry]:
        check_kv_access(namespace, self._reader)
        return self._store.list(namespace, prefix)
