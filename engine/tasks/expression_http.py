"""L2 adapter: the request of an expression's ``http()`` (engine/templating/http_call.py), with httpx.

The whole exchange, redirects and a slow body included, ends within ``call.timeout`` (the time left
to the render); the body is read up to ``call.max_bytes`` and refused beyond. The process's proxy
variables are ignored (``trust_env=False``): an expression reaches what the process reaches directly.
"""
from __future__ import annotations

import json
import time
from typing import Any

import httpx

from engine.templating import ExpressionError
from engine.templating.http_call import HttpCall

_MAX_REDIRECTS = 5


def send(call: HttpCall) -> Any:
    """The response body: parsed when it is JSON, else its text. Raises TimeoutError at the deadline."""
    deadline = time.monotonic() + call.timeout
    timeout = httpx.Timeout(max(call.timeout, 0.001))
    try:
        with httpx.Client(follow_redirects=True, max_redirects=_MAX_REDIRECTS, timeout=timeout,
                          trust_env=False) as client:
            request = client.build_request(call.method, call.uri, params=list(call.query),
                                           headers=list(call.headers), content=call.body)
            response = client.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    raise ExpressionError(f"http(): {call.method} {_where(call.uri)} answered "
                                          f"{response.status_code} {response.reason_phrase}")
                raw = _read(response, call.max_bytes, deadline)
            finally:
                response.close()
    except httpx.TimeoutException:
        raise TimeoutError from None
    except httpx.HTTPError as error:
        raise ExpressionError(f"http(): {call.method} {_where(call.uri)} failed: "
                              f"{type(error).__name__}: {error}") from None
    return _decode(raw, response)


def _read(response: httpx.Response, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if time.monotonic() > deadline:
            raise TimeoutError
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, response: httpx.Response) -> Any:
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", "").lower() and text.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _too_large(limit: int) -> ExpressionError:
    return ExpressionError(f"http(): the response is larger than {limit:,} bytes "
                           "(expressions.http_max_response_bytes)")


def _where(uri: str) -> str:
    """The URI without its query or user info: a token passed there stays out of the message."""
    parsed = httpx.URL(uri)
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"
