"""L2 adapter: runs ``http.Request`` and ``http.Download`` with httpx.

Bodies are read in chunks so that a kill or a timeout (the context's cancel event) stops a long
transfer; a 4xx/5xx response fails the task unless ``allowFailed``. Request keeps the body in the
outputs (JSON-parsed when it is a JSON object or array); Download stores it in internal storage.
"""
from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Generator, Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from engine.plugins.core.http import (
    AuthType,
    DownloadOptions,
    HttpConfiguration,
    HttpTaskOptions,
    LoggingType,
    RequestOptions,
)
from engine.storage.access import is_file_uri
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_duration, as_int, as_text

# Kestra keeps at most 10 MB of response in a Request output; Download has no limit.
REQUEST_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_CONNECT_SECONDS = 30.0
DEFAULT_READ_SECONDS = 300.0
_CHUNK = 64 * 1024


def run_request(options: RequestOptions, ctx: RunContext) -> dict[str, Any]:
    if as_bool(ctx, options.encrypt_body, "encryptBody"):
        raise TaskFailed("encryptBody is not supported yet in Podium: remove it to keep the body in the outputs")
    limit = options.options.max_content_length or REQUEST_MAX_BYTES
    with _client(options, ctx) as client:
        request, form = _request(options, ctx, client)
        with _send(client, request) as response:
            _log_exchange(options.options, ctx, request, response)
            _check_status(options, ctx, response)
            raw = b"".join(_chunks(response, ctx, limit))
    charset = response.charset_encoding or ctx.render_text(options.options.default_charset) or "utf-8"
    if LoggingType.RESPONSE_BODY in set(options.options.logs or ()):
        ctx.logger.info(f"Response body: {raw.decode(charset, 'replace')}")
    outputs: dict[str, Any] = {"uri": str(request.url), "code": response.status_code,
                               "headers": _headers(response), "body": _body(raw.decode(charset, "replace"))}
    if form is not None:
        outputs["formData"] = form
    return outputs


def run_download(options: DownloadOptions, ctx: RunContext) -> dict[str, Any]:
    url = as_text(ctx, options.uri, "uri")
    target = ctx.working_dir / f"download-{ctx.task_run_id}"
    with _client(options, ctx) as client:
        request, _ = _request(options, ctx, client)
        with _send(client, request) as response, open(target, "wb") as file:
            _log_exchange(options.options, ctx, request, response)
            _check_status(options, ctx, response)
            size = sum(file.write(chunk) for chunk in _chunks(response, ctx, None))
    expected = response.headers.get("Content-Length")
    if expected is not None and "Content-Encoding" not in response.headers and int(expected) != size:
        raise TaskFailed(f"Invalid size, got {size}, expected {expected}")
    if size == 0:
        if as_bool(ctx, options.fail_on_empty_response, "failOnEmptyResponse") and not _allow_failed(options, ctx):
            raise TaskFailed("No response from server")
        ctx.logger.warn(f"File '{url}' is empty")
    name = _filename(response.headers.get("Content-Disposition")) or f"{ctx.task_run_id}{_extension(url)}"
    ctx.logger.debug(f"File '{url}' downloaded with size '{size}'")
    ctx.metric("response.length", size)
    return {"code": response.status_code, "uri": ctx.put_file(target, name),
            "headers": _headers(response), "length": size}


@contextlib.contextmanager
def _send(client: httpx.Client, request: httpx.Request) -> Iterator[httpx.Response]:
    """Sends ``request`` and streams the response, closed when the block ends."""
    response = client.send(request, stream=True)
    try:
        yield response
    finally:
        response.close()


def _client(options: HttpTaskOptions, ctx: RunContext) -> httpx.Client:
    config = options.options
    ssl = config.ssl or options.ssl_options
    insecure = ssl is not None and ssl.insecure_trust_all_certificates is not None and as_bool(
        ctx, ssl.insecure_trust_all_certificates, "ssl.insecureTrustAllCertificates")
    return httpx.Client(follow_redirects=as_bool(ctx, config.follow_redirects, "options.followRedirects"),
                        timeout=_timeout(config, ctx), auth=_auth(config, ctx), verify=not insecure,
                        proxy=_proxy(config, ctx), trust_env=False)


def _timeout(config: HttpConfiguration, ctx: RunContext) -> httpx.Timeout:
    connect = (config.timeout.connect_timeout if config.timeout else None) or config.connect_timeout
    read = ((config.timeout.read_idle_timeout if config.timeout else None) or config.read_timeout
            or config.read_idle_timeout)
    connect_s = as_duration(ctx, connect, "connectTimeout").total_seconds() if connect else DEFAULT_CONNECT_SECONDS
    read_s = as_duration(ctx, read, "readTimeout").total_seconds() if read else DEFAULT_READ_SECONDS
    return httpx.Timeout(read_s, connect=connect_s)


def _auth(config: HttpConfiguration, ctx: RunContext) -> httpx.Auth | None:
    auth = config.auth
    if auth is not None and auth.type is AuthType.BEARER:
        return _Bearer(as_text(ctx, auth.token, "auth.token"))
    user = auth.username if auth is not None else config.basic_auth_user
    password = auth.password if auth is not None else config.basic_auth_password
    if user is None and password is None:
        return None
    return httpx.BasicAuth(ctx.render_text(user) or "", ctx.render_text(password) or "")


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _proxy(config: HttpConfiguration, ctx: RunContext) -> str | None:
    proxy = config.proxy
    address = ctx.render_text(proxy.address if proxy else config.proxy_address)
    if not address or (proxy is not None and str(proxy.type).upper() == "DIRECT"):
        return None
    port = as_int(ctx, proxy.port, "proxy.port") if proxy and proxy.port is not None else config.proxy_port
    user = ctx.render_text(proxy.username if proxy else config.proxy_username)
    password = ctx.render_text(proxy.password if proxy else config.proxy_password)
    scheme = "socks5" if str(proxy.type if proxy else config.proxy_type).upper() == "SOCKS" else "http"
    credentials = f"{user}:{password or ''}@" if user else ""
    return f"{scheme}://{credentials}{address}{f':{port}' if port else ''}"


def _request(options: HttpTaskOptions, ctx: RunContext,
             client: httpx.Client) -> tuple[httpx.Request, dict[str, Any] | None]:
    # Kestra encodes spaces, the one common character users leave unencoded in a URL.
    url = as_text(ctx, options.uri, "uri").replace(" ", "%20")
    method = (ctx.render_text(options.method) or "GET").upper()
    content_type = ctx.render_text(options.content_type)
    headers = {str(k): str(v) for k, v in (ctx.render(options.headers) or {}).items()}
    form = ctx.render(options.form_data) if options.form_data else None
    kwargs: dict[str, Any] = {}
    if form:
        if content_type == "multipart/form-data":
            kwargs["files"] = {name: _part(name, value, ctx) for name, value in form.items()}
        else:
            kwargs["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    elif options.body is not None:
        body = ctx.render(options.body)
        kwargs["content"] = (body if isinstance(body, str) else json.dumps(body)).encode(
            ctx.render_text(options.options.default_charset) or "utf-8")
        headers.setdefault("Content-Type", content_type or "application/json")
    elif content_type:
        headers.setdefault("Content-Type", content_type)
    return client.build_request(method, url, headers=headers, **kwargs), form


def _part(name: str, value: Any, ctx: RunContext) -> tuple[str | None, bytes | str]:
    """A multipart field: a file URI or {name, content} becomes a file, anything else text."""
    if isinstance(value, dict) and "name" in value and "content" in value:
        return (str(value["name"]), ctx.read_file(str(value["content"])))
    if is_file_uri(value):
        return (PurePosixPath(value).name, ctx.read_file(value))
    return (None, value if isinstance(value, str) else json.dumps(value))


def _allow_failed(options: HttpTaskOptions, ctx: RunContext) -> bool:
    legacy = options.allow_failed is not None and as_bool(ctx, options.allow_failed, "allowFailed")
    return legacy or as_bool(ctx, options.options.allow_failed, "options.allowFailed")


def _check_status(options: HttpTaskOptions, ctx: RunContext, response: httpx.Response) -> None:
    if response.status_code >= 400 and not _allow_failed(options, ctx):
        raise TaskFailed(f"Failed http request with response code '{response.status_code}'")


def _chunks(response: httpx.Response, ctx: RunContext, limit: int | None) -> Iterator[bytes]:
    read = 0
    for chunk in response.iter_bytes(_CHUNK):
        if ctx.is_cancelled:
            raise TaskFailed("HTTP transfer stopped: the task run was killed or timed out")
        read += len(chunk)
        if limit is not None and read > limit:
            raise TaskFailed(f"the response is larger than {limit} bytes: raise options.maxContentLength "
                             "or use io.kestra.plugin.core.http.Download to store it as a file")
        yield chunk


def _headers(response: httpx.Response) -> dict[str, list[str]]:
    """Header name (as the server wrote it) -> every value, as Kestra's ``Map<String, List<String>>``."""
    result: dict[str, list[str]] = {}
    for raw_name, raw_value in response.headers.raw:
        result.setdefault(raw_name.decode("latin-1"), []).append(raw_value.decode("latin-1"))
    return result


def _body(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
    return text


def _log_exchange(config: HttpConfiguration, ctx: RunContext, request: httpx.Request,
                  response: httpx.Response) -> None:
    wanted = set(config.logs or ())
    if LoggingType.REQUEST_HEADERS in wanted:
        ctx.logger.info(f"Request '{request.method} {request.url}' headers: {dict(request.headers)}")
    if LoggingType.REQUEST_BODY in wanted and request.content:
        ctx.logger.info(f"Request body: {request.content.decode('utf-8', 'replace')}")
    if LoggingType.RESPONSE_HEADERS in wanted:
        ctx.logger.info(f"Response {response.status_code} headers: {dict(response.headers)}")


_FILENAME = re.compile(r"""filename\*?=(?:[\w-]+'[\w-]*')?"?([^";]+)"?""", re.IGNORECASE)


def _filename(disposition: str | None) -> str | None:
    """The file name of a Content-Disposition header, without any folder part."""
    if not disposition:
        return None
    names = _FILENAME.findall(disposition)
    if not names:
        return None
    return PurePosixPath(unquote(names[-1]).replace("\\", "/")).name or None


def _extension(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).suffix
