"""L1 pure core: how namespaces relate (``company.team`` is a child of ``company``).

A flow reaches what belongs to its own namespace's tree: the namespace itself, its parents and its
children (the KV store, ``engine/tasks/kv_access.py``; the namespace named in ``secret()``).
"""
from __future__ import annotations


def in_lineage(namespace: str, reader: str) -> bool:
    """Whether ``namespace`` is ``reader``, one of its parents or one of its children."""
    return (namespace == reader or reader.startswith(namespace + ".")
            or namespace.startswith(reader + "."))


def with_parents(namespace: str) -> list[str]:
    """``namespace`` then each of its parents, nearest first: ``a.b.c`` -> ``[a.b.c, a.b, a]``."""
    parts = namespace.split(".")
    return [".".join(parts[:end]) for end in range(len(parts), 0, -1)]
