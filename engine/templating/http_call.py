"""L1 pure core: what ``http(uri=..., method=..., ...)`` asks for, checked before any I/O.

The request itself is made by the caller's ExpressionIO (``engine/tasks/expression_http.py``),
within the time left to the render and a cap on the response size (docs/expressions.md, *http()*).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml

from engine.templating.errors import ExpressionError
from engine.templating.output import java_string

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class HttpCall:
    """One request: the body already written as bytes; ``timeout`` seconds for all of it."""

    uri: str
    method: str = "GET"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = 10.0
    max_bytes: int = 10_000_000


def build_call(uri: Any, method: Any, query: Any, body: Any, content_type: Any, headers: Any,
               accept: Any, *, timeout: float, max_bytes: int) -> HttpCall:
    """The request ``http()``'s arguments describe, or an ExpressionError naming the bad one."""
    text = "" if uri is None else java_string(uri)
    if urlsplit(text).scheme.lower() not in ("http", "https") or not urlsplit(text).netloc:
        raise ExpressionError(f"http(): `uri` must be an http:// or https:// URL, not {text!r}")
    verb = str(method or "GET").upper()
    if verb not in _METHODS:
        raise ExpressionError(f"http(): unknown `method` {verb!r}; use one of {', '.join(sorted(_METHODS))}")
    kind = str(content_type or JSON_TYPE)
    pairs = [(k, v) for k, v in _pairs(headers, "headers") if k.lower() not in ("content-type", "accept")]
    pairs.append(("Accept", str(accept or JSON_TYPE)))
    written = None
    if body is not None:
        written = _body(body, kind)
        pairs.append(("Content-Type", kind))
    return HttpCall(text, verb, tuple(_pairs(query, "query")), tuple(pairs), written, timeout, max_bytes)


def _pairs(values: Any, name: str) -> list[tuple[str, str]]:
    """A map's entries as text pairs; a list value gives one pair per item (repeated headers)."""
    if values is None:
        return []
    if not isinstance(values, Mapping):
        raise ExpressionError(f"http(): `{name}` must be a map, not {type(values).__name__}")
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(key), java_string(item)) for item in items if item is not None)
    return pairs


def _body(body: Any, content_type: str) -> bytes:
    """A string as it is; a map or a list as JSON, YAML or form fields, as ``contentType`` says."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    kind = content_type.split(";")[0].strip().lower()
    if kind.endswith("yaml"):
        return yaml.safe_dump(body, sort_keys=False).encode("utf-8")
    if kind == "application/x-www-form-urlencoded" and isinstance(body, Mapping):
        return urlencode([(str(k), java_string(v)) for k, v in body.items()]).encode("ascii")
    if kind.endswith("json"):
        return json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
    raise ExpressionError(f"http(): cannot write a {type(body).__name__} body as {content_type}; "
                          "pass the body as a string")
