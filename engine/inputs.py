"""L1 pure core: input values, from what a caller sends to what ``{{ inputs.x }}`` reads.

Two parts:
- value parsers (``as_int``, ``as_datetime``...) shared by the input models of
  ``engine.model.input_types`` (which also use them to check ``defaults`` at validation time);
- :func:`resolve_inputs`, Kestra's resolution order (§3 of the feature catalog): value or
  ``defaults``, dependencies, ``dependsOn.condition``, SELECT ``expression``, required check,
  parse, validate. Every problem is collected into one :class:`InputError`.

Typed values are JSON-friendly, the way Kestra serialises them: date-times as ISO instants in UTC
(``2024-01-01T10:00:00Z``), dates and times as ISO strings, durations as ISO-8601 (``PT5M``).
Rendering and file storage are callables handed in, so this module stays free of I/O.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from engine.durations import DurationError, format_duration, parse_duration

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.input_types import InputBase

StoreFile = Callable[[str, str], str]
Render = Callable[[str, Mapping[str, Any]], Any]

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
# Kestra's EmailInput pattern: its local part admits U+2019 where the RFC has the ASCII quote.
_EMAIL = re.compile(r"^$|^[a-zA-Z0-9_!#$%&\u2019*+/=?`{|}~^.-]+@[a-zA-Z0-9.-]+$")


class InputError(ValueError):
    """One or more inputs were missing or invalid; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ----------------------------------------------------------------------------- value parsers

def kind(value: Any) -> str:
    """How YAML would call the value's type, for messages."""
    if value is None:
        return "null"
    for py_type, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"),
                          (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, py_type):
            return name
    return type(value).__name__


def java_list(items: Iterable[Any]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"it must be a string, not {kind(value)}")


def as_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError("it must be an integer") from None


def as_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError("it must be a number") from None


def as_boolean(value: Any) -> bool:
    # Kestra: "true" in any case is true, anything else is false.
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def as_duration(value: Any) -> str:
    try:
        return format_duration(parse_duration(str(value)))
    except DurationError:
        raise ValueError("it must be an ISO-8601 duration such as PT5M or P1DT2H") from None


def as_datetime(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError("it must be an ISO-8601 date-time with a zone, such as 2024-01-01T10:00:00Z")
    return format_instant(moment)


def as_date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("it must be a date in the form yyyy-MM-dd") from None


def as_time(value: Any) -> str:
    try:
        return time.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("it must be a time in the form HH:mm or HH:mm:ss") from None


def as_uri(value: Any) -> str:
    text = as_string(value)
    if not _URI.match(text):
        raise ValueError("it must be a URI such as https://example.com/data.csv")
    return text


def as_email(value: Any) -> str:
    text = as_string(value)
    if not _EMAIL.match(text):
        raise ValueError("it must be an email address such as jane@example.com")
    return text


def as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("it must be a list or a JSON array") from None
    if not isinstance(value, list):
        raise ValueError("it must be a list or a JSON array")
    return value


def temporal_key(type_name: str, text: str) -> Any:
    """A comparable value for a DATETIME, DATE or TIME input's value or bound."""
    if type_name == "DATETIME":
        return datetime.fromisoformat(as_datetime(text))
    if type_name == "DATE":
        return date.fromisoformat(as_date(text))
    return time.fromisoformat(as_time(text))


def format_instant(moment: datetime) -> str:
    """A UTC instant the way Java's ``Instant.toString`` prints it (``2024-01-01T10:00:00Z``)."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    # Java prints the fraction in groups of three digits: millis, or micros when needed.
    if utc.microsecond % 1000:
        text += f".{utc.microsecond:06d}"
    elif utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def shown(value: Any) -> str:
    """A value as Kestra prints it in messages (Java ``toString``; JSON for lists and maps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def input_error(input_id: str, message: str, value: Any) -> str:
    return f"Invalid input for `{input_id}`, {message}, but received `{shown(value)}`"


# ----------------------------------------------------------------------------- resolution

def resolve_inputs(flow: Flow, raw: Mapping[str, Any], *, store_file: StoreFile | None = None,
                   render: Render | None = None) -> dict[str, Any]:
    """The typed inputs of a new execution of ``flow``, nested by dotted ids.

    Args:
        flow: the flow whose ``inputs`` declare what is expected.
        raw: values sent by the caller, by input id (strings or typed values).
        store_file: ``(input_id, local_path_or_value) -> kestra:// URI`` for FILE inputs; values
            that already are ``kestra://`` URIs are kept as they are.
        render: ``(expression, variables) -> value`` for ``dependsOn.condition``, SELECT
            ``expression`` and expression ``defaults``; without it those are left unrendered.

    Raises:
        InputError: listing every missing or invalid input.
    """
    declared = {i.id: i for i in flow.inputs or []}
    resolved: dict[str, Any] = {}
    enabled: set[str] = set()
    problems: list[str] = []
    for spec in _dependency_order(list(declared.values())):
        context = {"inputs": nest(resolved)}
        if not _is_enabled(spec, enabled, context, render, problems):
            continue
        enabled.add(spec.id)
        try:
            resolved[spec.id] = _resolve_one(spec, raw, context, store_file, render)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise InputError(problems)
    ordered = {i: resolved[i] for i in declared if i in resolved}
    return nest(ordered)


def _resolve_one(spec: InputBase, raw: Mapping[str, Any], context: Mapping[str, Any],
                 store_file: StoreFile | None, render: Render | None) -> Any:
    value = raw.get(spec.id)
    if value is None or value == "" and spec.type != "STRING":
        value = _rendered(spec.defaults, context, render)
    spec = _with_rendered_choices(spec, context, render)
    if value is None:
        if spec.required:
            raise ValueError(input_error(spec.id, "missing required input", None))
        return None
    if spec.type == "FILE" and store_file is not None and not str(value).startswith("kestra://"):
        value = store_file(spec.id, str(value))
    try:
        typed = spec.parse(value)
        spec.check(typed)
    except ValueError as err:
        raise ValueError(input_error(spec.id, str(err), value)) from None
    return typed


def _rendered(value: Any, context: Mapping[str, Any], render: Render | None) -> Any:
    if render is not None and isinstance(value, str) and ("{{" in value or "{%" in value):
        return render(value, context)
    return value


def _with_rendered_choices(spec: InputBase, context: Mapping[str, Any],
                           render: Render | None) -> InputBase:
    expression = getattr(spec, "expression", None)
    if expression is None or render is None:
        return spec
    choices = render(expression, context)
    if isinstance(choices, str):
        choices = as_list(choices)
    return spec.model_copy(update={"values": [as_string(c) for c in choices]})


def _is_enabled(spec: InputBase, enabled: set[str], context: Mapping[str, Any],
                render: Render | None, problems: list[str]) -> bool:
    depends = spec.depends_on
    if depends is None:
        return True
    if any(dep not in enabled for dep in depends.inputs):
        return False
    if depends.condition is None or render is None:
        return True
    try:
        outcome = render(depends.condition, context)
    except Exception as err:  # a template error in the condition is the flow author's problem
        problems.append(input_error(spec.id, f"its dependsOn condition failed to render: {err}",
                                    depends.condition))
        return False
    return outcome is True or str(outcome).strip().lower() == "true"


def _dependency_order(specs: list[InputBase]) -> list[InputBase]:
    """Inputs with their dependencies first; declaration order otherwise (cycles are refused
    when the flow is validated, so they can only be ignored here)."""
    by_id = {s.id: s for s in specs}
    ordered: list[InputBase] = []
    seen: set[str] = set()

    def visit(spec: InputBase, trail: frozenset[str]) -> None:
        if spec.id in seen or spec.id in trail:
            return
        for dep in spec.depends_on.inputs if spec.depends_on else []:
            if dep in by_id:
                visit(by_id[dep], trail | {spec.id})
        seen.add(spec.id)
        ordered.append(spec)

    for spec in specs:
        visit(spec, frozenset())
    return ordered


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` → ``{"a": {"b": 1}, "c": 2}`` (Kestra's ``flattenToNestedMap``)."""
    result: dict[str, Any] = {}
    for key, value in flat.items():
        node = result
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return result


def resolve_outputs(flow: Flow, rendered: Mapping[str, Any]) -> dict[str, Any]:
    """Flow outputs, each rendered value parsed by its declared type.

    Raises:
        InputError: listing every output whose value does not fit its type (the execution then
            ends FAILED, as in Kestra).
    """
    problems: list[str] = []
    result: dict[str, Any] = {}
    for output in flow.outputs or []:
        value = rendered.get(output.id)
        if value is None:
            if output.required is not False:
                problems.append(f"Invalid output for `{output.id}`, missing required output, "
                                f"but received `null`")
            continue
        try:
            result[output.id] = output.parse(value)
        except ValueError as err:
            problems.append(f"Invalid output for `{output.id}`, {err}, but received `{shown(value)}`")
    if problems:
        raise InputError(problems)
    return nest(result)
