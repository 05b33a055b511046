"""L2 adapter: building and parsing Kestra's internal-storage URIs.

A URI is ``kestra:///`` plus slash-separated segments; each segment is percent-encoded
(as Java's ``URI`` does), so a file name may hold spaces or ``%`` safely. Namespace dots
become slashes: ``company.team`` -> ``company/team``. Layout: reference/kestra-features.md §10.
"""
from __future__ import annotations

from urllib.parse import quote, unquote

from engine.storage.base import SCHEME, StoragePathError

PREFIX = SCHEME + "/"  # "kestra:///"


def segments(uri: str) -> list[str]:
    """The decoded path segments of ``uri``; rejects anything that could leave the root.

    Raises StoragePathError for another scheme, a ``.``/``..``/empty segment, a decoded
    slash or backslash inside a segment, or a NUL byte.
    """
    if not uri.startswith(PREFIX):
        raise StoragePathError(f"not an internal-storage URI (expected {PREFIX}...): {uri!r}")
    raw = uri[len(PREFIX):].rstrip("/")
    if not raw:
        return []
    parts = [unquote(part) for part in raw.split("/")]
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part:
            raise StoragePathError(f"illegal path segment {part!r} in {uri!r}")
    return parts


def from_segments(parts: list[str]) -> str:
    """The canonical URI of decoded ``parts`` (each one percent-encoded)."""
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part:
            raise StoragePathError(f"illegal path segment {part!r}")
    return PREFIX + "/".join(quote(part, safe="") for part in parts)


def from_path(path: str) -> str:
    """``/a/b c.txt`` -> ``kestra:///a/b%20c.txt`` (the path is not yet encoded)."""
    return from_segments([part for part in path.split("/") if part])


def canonical(uri: str) -> str:
    """The same URI with every segment encoded the one canonical way."""
    return from_segments(segments(uri))


def namespace_parts(namespace: str) -> list[str]:
    return namespace.split(".")


def execution_uri(namespace: str, flow_id: str, execution_id: str) -> str:
    """``/{ns}/{flow}/executions/{execId}``: the folder of everything an execution stored."""
    return from_segments([*namespace_parts(namespace), flow_id, "executions", execution_id])


def task_output_uri(namespace: str, flow_id: str, execution_id: str, task_id: str,
                    task_run_id: str, name: str) -> str:
    """``/{ns}/{flow}/executions/{execId}/tasks/{taskId}/{taskRunId}/{name}``."""
    return from_segments([*namespace_parts(namespace), flow_id, "executions", execution_id,
                          "tasks", task_id, task_run_id, name])


def input_file_uri(namespace: str, flow_id: str, execution_id: str, input_id: str,
                   filename: str) -> str:
    """``/{ns}/{flow}/executions/{execId}/inputs/{inputId}/{filename}``."""
    return from_segments([*namespace_parts(namespace), flow_id, "executions", execution_id,
                          "inputs", input_id, filename])


def trigger_file_uri(namespace: str, flow_id: str, execution_id: str, trigger_id: str,
                     name: str) -> str:
    """``/{ns}/{flow}/executions/{execId}/trigger/{triggerId}/{name}``."""
    return from_segments([*namespace_parts(namespace), flow_id, "executions", execution_id,
                          "trigger", trigger_id, name])


def namespace_files_root(namespace: str) -> str:
    """``/{ns}/_files``: the folder holding a namespace's files."""
    return from_segments([*namespace_parts(namespace), "_files"])


def namespace_file_uri(namespace: str, path: str) -> str:
    """``/{ns}/_files/{path}``; ``path`` may start with ``/`` and hold sub-folders."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        raise StoragePathError(f"empty namespace file path {path!r}")
    return from_segments([*namespace_parts(namespace), "_files", *parts])
