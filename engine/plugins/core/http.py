"""L1 pure core: options and specs of the ``http`` tasks (Request, Download).

Pure: the HTTP client (httpx) is imported only by :mod:`engine.tasks.http_tasks`, which runs them.
Both the current ``options`` shape (``timeout``, ``auth``, ``allowFailed``...) and the
deprecated flat one (``connectTimeout``, ``basicAuthUser``...) are accepted, as in Kestra.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import Field

from engine.model.task import Duration, TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool, DynInt

PREFIX = "io.kestra.plugin.core.http."
LEGACY = "io.kestra.plugin.fs.http."


class TimeoutOptions(Options):
    connect_timeout: Duration | None = dynamic(None, "Time allowed to connect.")
    read_idle_timeout: Duration | None = dynamic(None, "Time allowed between two reads.")


class ProxyOptions(Options):
    type: Literal["DIRECT", "HTTP", "SOCKS"] | str = "DIRECT"
    address: str | None = dynamic(None)
    port: DynInt | None = dynamic(None)
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)


class AuthType(str, Enum):
    BASIC = "BASIC"
    BEARER = "BEARER"


class AuthOptions(Options):
    type: AuthType
    username: str | None = dynamic(None, "BASIC user.")
    password: str | None = dynamic(None, "BASIC password.")
    token: str | None = dynamic(None, "BEARER token.")


class SslOptions(Options):
    insecure_trust_all_certificates: DynBool | None = dynamic(None, "Skip certificate verification.")


class LoggingType(str, Enum):
    REQUEST_HEADERS = "REQUEST_HEADERS"
    REQUEST_BODY = "REQUEST_BODY"
    RESPONSE_HEADERS = "RESPONSE_HEADERS"
    RESPONSE_BODY = "RESPONSE_BODY"


class HttpConfiguration(Options):
    timeout: TimeoutOptions | None = None
    proxy: ProxyOptions | None = None
    auth: AuthOptions | None = None
    ssl: SslOptions | None = None
    follow_redirects: DynBool = dynamic(True, "Follow 3xx redirects.")
    allow_failed: DynBool = dynamic(False, "Do not fail on a 4xx/5xx response.")
    default_charset: str | None = dynamic("UTF-8", "Charset of a text body.")
    logs: list[LoggingType] | None = None
    # Deprecated flat properties, still accepted (Kestra maps them onto the ones above).
    connect_timeout: Duration | None = None
    read_timeout: Duration | None = None
    read_idle_timeout: Duration | None = None
    connection_pool_idle_timeout: Duration | None = None
    max_content_length: int | None = None
    proxy_type: str | None = None
    proxy_address: str | None = None
    proxy_port: int | None = None
    proxy_username: str | None = None
    proxy_password: str | None = None
    basic_auth_user: str | None = dynamic(None)
    basic_auth_password: str | None = dynamic(None)
    log_level: str | None = None


class HttpTaskOptions(TaskOptions):
    uri: str = dynamic(..., "The URL to call.")
    method: str = dynamic("GET", "HTTP method.")
    body: str | dict[str, Any] | list[Any] | None = dynamic(None, "Request body (text, or a map/list sent as JSON).")
    form_data: dict[str, Any] | None = dynamic(None, "Form fields; multipart when contentType is multipart/form-data.")
    content_type: str = dynamic("application/json", "Content-Type of the request body.")
    headers: dict[str, Any] | None = dynamic(None, "Request headers.")
    options: HttpConfiguration = Field(default_factory=HttpConfiguration, description="Client settings.")
    allow_failed: DynBool | None = dynamic(None, "Deprecated: use options.allowFailed.")
    ssl_options: SslOptions | None = Field(None, description="Deprecated: use options.ssl.")


class RequestOptions(HttpTaskOptions):
    encrypt_body: DynBool = dynamic(False, "Store the body encrypted (needs an encryption key).")


class DownloadOptions(HttpTaskOptions):
    fail_on_empty_response: DynBool = dynamic(True, "Fail when the response has no body.")


SPECS: list[PluginSpec] = [
    PluginSpec(
        type=PREFIX + "Request", kind=PluginKind.RUNNABLE, options=RequestOptions,
        title="Make an HTTP request and keep the response (code, headers, body) as outputs.",
        aliases=(LEGACY + "Request",), implementation="engine.tasks.http_tasks:run_request",
        examples=("uri: https://dummyjson.com/products/add\nmethod: POST\ncontentType: application/json\n"
                  'body: \'{"title": "Kestra Pen"}\'',)),
    PluginSpec(
        type=PREFIX + "Download", kind=PluginKind.RUNNABLE, options=DownloadOptions,
        title="Download a file from an HTTP server into internal storage.",
        aliases=(LEGACY + "Download",), implementation="engine.tasks.http_tasks:run_download",
        examples=("uri: https://huggingface.co/datasets/kestra/datasets/raw/main/csv/orders.csv",)),
]
