"""L1 pure core: Kestra's expression functions and date filters, bound to one Renderer.

Everything that needs the outside (secrets, KV, files, the clock, the AES key) goes
through the ExpressionIO the Renderer was given.
"""
from __future__ import annotations

import json
import random
import re
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import yaml as yamllib
from jinja2 import pass_context
from jinja2.runtime import Context

from engine import safe_yaml
from engine.ids import new_id
from engine.namespaces import in_lineage, with_parents
from engine.templating import crypto, dates
from engine.templating.budget import Budget
from engine.templating.errors import ExpressionError
from engine.templating.http_call import build_call
from engine.templating.identifiers import ksuid, nano_id
from engine.templating.io import ExpressionIO
from engine.templating.java_time import zone_of
from engine.templating.operators import inclusive_range, is_number


class RenderHook(Protocol):
    def __call__(self, template: str, context: Mapping[str, Any], recursive: bool) -> str: ...


def _user_vars(context: Context) -> dict[str, Any]:
    globals_ = context.environment.globals
    return {k: v for k, v in context.get_all().items()
            if not (k in globals_ and globals_[k] is v) and not k.startswith("_pb_")}


def _flow_namespace(context: Context, function: str) -> str:
    flow = context.get("flow")
    if isinstance(flow, Mapping) and flow.get("namespace"):
        return str(flow["namespace"])
    raise ExpressionError(f"{function}() needs `flow.namespace` in the context; pass a namespace")


def from_json(json_text: Any) -> Any:
    if json_text is None:
        return None
    try:
        return json.loads(json_text)
    except (TypeError, ValueError) as error:
        raise ExpressionError(f"fromJson: the value is not valid JSON ({error})") from None


def from_yaml(yaml_text: Any) -> Any:
    # engine.safe_yaml: an alias bomb or a too deep text is refused before any value is built.
    if yaml_text is None:
        return None
    text = yaml_text if isinstance(yaml_text, str) else str(yaml_text)
    try:
        return safe_yaml.load(text)
    except yamllib.YAMLError as error:
        raise ExpressionError(f"yaml: the value is not valid YAML ({safe_yaml.one_line(error, text)})") from None


_ION_SYMBOL_KEY = re.compile(r"([{,]\s*)([A-Za-z_$][\w$]*)\s*:")


def from_ion(ion: Any) -> Any:
    """Best effort: Ion text that is JSON plus bare symbol keys and `e0` floats."""
    if ion is None:
        return None
    text = _ION_SYMBOL_KEY.sub(r'\1"\2":', str(ion).strip())
    text = re.sub(r"'([^']*)'\s*:", r'"\1":', text)
    try:
        return json.loads(text)
    except ValueError:
        raise ExpressionError("fromIon: only the JSON-like subset of Ion text is supported") from None


def current_each_output(context: Context, outputs: Any) -> Any:
    """Pick the output of the current iteration, walking parents' values then the task run's."""
    parents = context.get("parents")
    if isinstance(parents, list):
        for parent in reversed(parents):
            taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
            if isinstance(taskrun, Mapping) and "value" in taskrun and isinstance(outputs, Mapping):
                outputs = outputs.get(taskrun["value"])
    taskrun = context.get("taskrun")
    if isinstance(taskrun, Mapping) and "value" in taskrun and isinstance(outputs, Mapping):
        outputs = outputs.get(taskrun["value"])
    return outputs


def tasks_with_state(context: Context, state: Any) -> list[dict[str, Any]]:
    """``tasksWithState('FAILED')``: ``{taskId, state[, value]}`` of each task run in that state."""
    if not isinstance(state, str):
        raise ExpressionError("tasksWithState(state) needs a state name, e.g. tasksWithState('FAILED')")
    wanted, found = state.upper(), []
    tasks = context.get("tasks")
    for task_id, runs in (tasks.items() if isinstance(tasks, Mapping) else ()):
        if not isinstance(runs, Mapping):
            continue
        if isinstance(runs.get("state"), str):  # a task run without a value
            if runs["state"].upper() == wanted:
                found.append({"taskId": task_id, "state": wanted})
            continue
        for value, run in runs.items():  # the runs of an iterated task, by value
            if isinstance(run, Mapping) and str(run.get("state", "")).upper() == wanted:
                found.append({"taskId": task_id, "state": wanted, "value": value})
    return found


def secret_member(secret: str, subkey: str, key: str) -> str:
    """The ``subkey`` member of a JSON object secret: text as it is, anything else as JSON."""
    try:
        members = json.loads(secret)
    except ValueError:
        members = None
    if not isinstance(members, dict):
        raise ExpressionError(f"secret('{key}', subkey='{subkey}'): the secret is not a JSON object, so it has "
                              "no sub-keys; store it as JSON or drop `subkey`")
    if subkey not in members:
        raise ExpressionError(f"Cannot find secret sub-key '{subkey}' in secret '{key}'")
    member = members[subkey]
    return member if isinstance(member, str) else json.dumps(member, separators=(",", ":"))


def random_int(lower: int, upper: int) -> int:
    if not (is_number(lower) and is_number(upper)) or int(upper) <= int(lower):
        raise ExpressionError("randomInt(lower, upper) needs two numbers with lower < upper")
    return random.randrange(int(lower), int(upper))


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def extreme(*values: Any) -> Any:
        items = list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple)) else list(values)
        if not items:
            raise ExpressionError(f"{name}() needs at least one value")
        return pick(items)
    return extreme


def _needs_context(function: Callable[..., Any]) -> Callable[..., Any]:
    # A plain function (bound methods cannot carry Jinja's pass_context mark).
    def call(context: Context, *args: Any, **kwargs: Any) -> Any:
        return function(context, *args, **kwargs)
    return pass_context(call)


class Bound:
    """The functions and date filters of one Renderer."""

    def __init__(self, io: ExpressionIO, default_timezone: str, render: RenderHook, budget: Budget,
                 on_secret: Callable[[], None] = lambda: None) -> None:
        self.io = io
        self.default_timezone = default_timezone
        self.render_hook = render
        self.budget = budget
        self.on_secret = on_secret

    # -- dates -------------------------------------------------------------------------
    # Expressions pass arguments by Pebble's names (``date(format='...', timeZone='UTC')``), so the
    # parameters keep them, camelCase and built-in names included.
    def _zoned(self, value: Any, time_zone: str | None, existing_format: str | None) -> Any:
        zone = zone_of(time_zone, self.default_timezone)
        try:
            return dates.to_datetime(value, zone, existing_format, self.budget.remaining())
        except TimeoutError:
            raise self.budget.timeout_error() from None

    def date(self, value: Any, format: str | None = None,  # noqa: A002 - Pebble's name
             timeZone: str | None = None,  # noqa: N803 - Pebble's name
             existingFormat: str | None = None, locale: str | None = None) -> str:  # noqa: N803 - Pebble's name
        return dates.format_date(self._zoned(value, timeZone, existingFormat), format)

    def date_add(self, value: Any, amount: Any, unit: str, format: str | None = None,  # noqa: A002 - Pebble's name
                 timeZone: str | None = None, existingFormat: str | None = None,  # noqa: N803 - Pebble's name
                 locale: str | None = None) -> str:
        moved = dates.add(self._zoned(value, timeZone, existingFormat), amount, unit)
        return dates.format_date(moved, format)

    def _timestamp(self, unit: str) -> Callable[..., int]:
        def timestamp(value: Any, timeZone: str | None = None,  # noqa: N803 - Pebble's name
                      existingFormat: str | None = None) -> int:  # noqa: N803 - Pebble's name
            return dates.epoch(self._zoned(value, timeZone, existingFormat), unit)
        return timestamp

    def now(self, format: str | None = None, timeZone: str | None = None,  # noqa: A002,N803 - Pebble's names
            locale: str | None = None) -> str:
        return self.date(self.io.now(), format, timeZone)

    # -- I/O ----------------------------------------------------------------------------
    def secret(self, context: Context, key: str, namespace: str | None = None, subkey: str | None = None) -> str:
        if namespace is not None:
            reader = _flow_namespace(context, "secret")
            if not in_lineage(str(namespace), reader):
                raise ExpressionError(
                    f"secret('{key}', namespace='{namespace}'): a flow of namespace '{reader}' reads the "
                    "secrets of its own namespace, its parents and its children only")
        self.on_secret()
        try:
            value = self.io.secret(key)
        except KeyError:
            raise ExpressionError(f"Cannot find secret for key `{key}`") from None
        if subkey:
            value = secret_member(value, str(subkey), key)
            register = getattr(self.io, "register_secret", None)
            if register is not None:
                register(value)  # masked from now on, as the whole secret is
        return value

    def kv(self, context: Context, key: str, namespace: str | None = None,
           errorOnMissing: bool = True) -> Any:  # noqa: N803 - Pebble's name
        """The value of ``key``; without ``namespace``, the flow's namespace's, else its nearest
        parent's that has it (Kestra's KV inheritance)."""
        if namespace is not None:
            return self.io.kv(str(namespace), key, bool(errorOnMissing))
        own = _flow_namespace(context, "kv")
        for candidate in with_parents(own):
            value = self.io.kv(candidate, key, False)
            if value is not None:
                return value
        if errorOnMissing:
            raise ExpressionError(f"The key '{key}' does not exist in the namespace '{own}' nor its parent "
                                  f"namespaces; use kv('{key}', errorOnMissing=false) to get null instead")
        return None

    def http(self, uri: Any = None, method: Any = "GET", query: Any = None, body: Any = None,
             contentType: Any = None, headers: Any = None,  # noqa: N803 - Pebble's name
             options: Any = None, accept: Any = None) -> Any:
        """The response body of a request (JSON parsed), within the render's time budget."""
        limits = self.budget.limits
        if not limits.http_enabled:
            raise ExpressionError("http() is turned off on this Podium instance (expressions.http_enabled)")
        request = getattr(self.io, "http", None)
        if request is None:
            raise ExpressionError("http() is not available here: this expression is rendered without network access")
        call = build_call(uri, method, query, body, contentType, headers, accept,
                          timeout=self.budget.remaining(), max_bytes=limits.http_max_response_bytes)
        try:
            return request(call)
        except TimeoutError:
            raise self.budget.timeout_error() from None

    def file_uri(self, context: Context, path: str) -> str:
        namespace = _flow_namespace(context, "fileURI").replace(".", "/")
        return f"kestra:///{namespace}/_files/{str(path).lstrip('/')}"

    def file_empty(self, path: str) -> bool:
        return self.io.file_size(path) == 0

    def error_logs(self) -> Any:
        reader = getattr(self.io, "error_logs", None)
        if reader is None:
            raise ExpressionError("errorLogs() is not available here (only in tasks run by a worker)")
        return reader()

    # -- rendering ----------------------------------------------------------------------
    def render(self, context: Context, toRender: Any, recursive: bool = True) -> Any:  # noqa: N803 - Pebble's name
        if not isinstance(toRender, str):
            return toRender
        return self.render_hook(toRender, _user_vars(context), bool(recursive))

    def render_once(self, context: Context, toRender: Any) -> Any:  # noqa: N803 - Pebble's name
        return self.render(context, toRender, recursive=False)

    def encrypt(self, key: str | None, plaintext: str) -> str:
        return crypto.encrypt(crypto.resolve_key(key, self.io), plaintext)

    def decrypt(self, key: str | None, encrypted: str) -> str:
        return crypto.decrypt(crypto.resolve_key(key, self.io), encrypted)

    # -- tables ---------------------------------------------------------------------------
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"date": self.date, "dateAdd": self.date_add,
                "timestamp": self._timestamp("seconds"), "timestampMilli": self._timestamp("millis"),
                "timestampMicro": self._timestamp("micros"), "timestampNano": self._timestamp("nanos")}

    def functions(self) -> dict[str, Callable[..., Any]]:
        with_context: dict[str, Callable[..., Any]] = {
            "kv": self.kv, "secret": self.secret, "fileURI": self.file_uri, "render": self.render,
            "renderOnce": self.render_once, "currentEachOutput": current_each_output,
            "tasksWithState": tasks_with_state, "printContext": _user_vars, "fetchContext": _user_vars}
        table: dict[str, Callable[..., Any]] = {name: _needs_context(fn) for name, fn in with_context.items()}
        table.update({
            "now": self.now, "fromJson": from_json, "json": from_json, "jsonDecode": from_json,
            "yaml": from_yaml, "fromIon": from_ion, "ionDecode": from_ion, "http": self.http,
            "read": self.io.read, "fileSize": self.io.file_size, "fileExists": self.io.file_exists,
            "fileEmpty": self.file_empty, "isFileEmpty": self.file_empty,
            "encrypt": self.encrypt, "decrypt": self.decrypt, "errorLogs": self.error_logs,
            "uuid": lambda: str(uuidlib.uuid4()), "id": new_id, "randomInt": random_int,
            "ksuid": ksuid, "nanoId": nano_id,
            "max": _extreme(max, "max"), "min": _extreme(min, "min"), "range": inclusive_range,
        })
        return table

