"""L1 pure core: validation problems, located and said in plain English.

A :class:`Problem` names the file, line and column, the field path in Kestra's camelCase
(``tasks[2].type``), what is wrong and, where one helps, how to fix it. This module turns
pydantic's errors (``loc`` tuples, "Field required") into problems; ``engine.loader`` feeds it the
YAML positions, and the flow-wide rules live with the model (``engine.model.flow``).
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from engine.errors import FlowInvalid
from engine.model.flow import Flow
from engine.model.flow_rules import format_path
from engine.model.inputs import INPUT_TYPES
from engine.model.task import ConditionOptions, TaskOptions, TriggerOptions
from engine.plugins.base import Registry

Loc = tuple[Any, ...]

MISSING_PROPERTY = "missing required property '{name}'"
UNKNOWN_PROPERTY = "unknown property '{name}'"
# Error types that only say "wrong type": several of them at one place come from a union.
_TYPE_NOUNS = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "an integer", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list", "tuple_type": "a list", "iterable_type": "a list", "none_required": "null",
}
# Union members pydantic names in a loc (``str``, ``list[...]``, ``function-wrap[...]``).
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|none|dict|list|any|[a-z-]+\[.*\])$")
_PREFIXES = ("Value error, ", "Assertion failed, ")
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7f, 0xa0)]} | \
    {0x2028: "\\u2028", 0x2029: "\\u2029"}


@dataclass(frozen=True, order=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow file."""

    file: str
    position: Position
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.position.line}:{self.position.column}: "
        field = f"{self.field}: " if self.field else ""
        hint = f"; {self.hint}" if self.hint else ""
        # One line whatever a key or value quoted in it holds (a newline, a terminal escape).
        return f"{where}{field}{self.message}{hint}".translate(_ESCAPES)


class FlowValidationError(FlowInvalid):
    """A flow was refused: ``details`` holds every located problem in file order, ``problems``
    (from :class:`FlowInvalid`) the same as text lines."""

    def __init__(self, details: list[Problem]) -> None:
        self.details = sorted(details, key=lambda p: (p.file, p.position))
        super().__init__([str(p) for p in self.details])


class Locator(Protocol):
    path: str

    def locate(self, loc: Loc) -> Position: ...

    def locate_key(self, loc: Loc) -> Position: ...


def problems_from_errors(errors: Iterable[ErrorDetails], data: Any, locator: Locator,
                         registry: Registry | None = None) -> list[Problem]:
    """Pydantic errors on ``data`` as located, plain-English problems (union noise merged)."""
    grouped: dict[Loc, list[tuple[ErrorDetails, Loc, bool]]] = {}
    for error in errors:
        loc, resolved, from_union = _resolve(tuple(error["loc"]), data)
        grouped.setdefault(loc, []).append((error, resolved, from_union))
    problems: list[Problem] = []
    for loc, group in grouped.items():
        kinds = [e["type"] for e, _, _ in group]
        if len(group) > 1 and all(k in _TYPE_NOUNS for k in kinds):
            problems.append(_problem(locator, loc, _expected(group[0][0], kinds), None))
            continue
        for error, resolved, _ in group:
            if len(group) > 1 and error["type"] in _TYPE_NOUNS:
                continue  # another branch of the union said something more precise
            problems.append(_translate(error, loc, resolved, data, locator, registry))
    return problems


def _problem(locator: Locator, loc: Loc, message: str, hint: str | None,
             at: Loc | None = None) -> Problem:
    return Problem(locator.path, locator.locate(at if at is not None else loc), format_path(loc), message, hint)


def _resolve(loc: Loc, data: Any) -> tuple[Loc, Loc, bool]:
    """The loc as a path into ``data`` (union members dropped), its resolvable part, and whether
    union members were dropped."""
    path: list[Any] = []
    resolved: list[Any] = []
    node: Any = data
    found, from_union = True, False
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        if found and (in_dict or isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        elif found and isinstance(node, dict) and isinstance(part, int) and part < len(node):
            part = list(node)[part]  # a map the model turned into a list (labels)
            node = node[part]
        elif isinstance(part, str) and (_UNION_MEMBER.match(part) or
                                        (isinstance(node, dict) and node.get("type") == part)):
            from_union = True
            continue
        elif not found or not isinstance(node, (dict, list)):
            if isinstance(node, (str, int, float, bool)) and part in ("key", "value"):
                continue  # ``key``/``value`` of a label written as ``key: value``
            found = False
        else:
            found = False
        path.append(part)
        if found:
            resolved.append(part)
    return tuple(path), tuple(resolved), from_union


def _expected(error: ErrorDetails, kinds: list[str]) -> str:
    nouns = list(dict.fromkeys(_TYPE_NOUNS[k] for k in kinds))
    return f"expected {' or '.join(nouns)}, got {_describe(error.get('input'))}"


def _describe(value: Any) -> str:
    """A value as the flow author wrote it: ``0``, ``true``, ``'text'``, or its kind for containers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = str(value)
    return f"'{text[:60]}...'" if len(text) > 60 else f"'{text}'"


def _translate(error: ErrorDetails, loc: Loc, resolved: Loc, data: Any, locator: Locator,
               registry: Registry | None) -> Problem:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    if kind == "missing":
        name = loc[-1]
        return _problem(locator, loc[:-1], MISSING_PROPERTY.format(name=name), None, at=resolved)
    if kind == "extra_forbidden":
        return _unknown_property(loc, data, locator, registry)
    if re.match(r"^unknown .*type '", message) and _at(data, resolved, "type") is not None:
        return _problem(locator, loc + ("type",), _weak_suggestion_dropped(message), None)
    if re.match(r"^an? [a-z ]+ needs a 'type'$", message):
        return _problem(locator, loc, MISSING_PROPERTY.format(name="type"), None)
    if kind in _TYPE_NOUNS:
        return _problem(locator, loc, f"expected {_TYPE_NOUNS[kind]}, got {_describe(value)}", None)
    text, hint = _constraint_message(kind, ctx, value, loc, message)
    return _problem(locator, loc, text, hint)


def _constraint_message(kind: str, ctx: dict[str, Any], value: Any, loc: Loc,
                        message: str) -> tuple[str, str | None]:
    if kind in ("too_short", "string_too_short") and ctx.get("min_length") == 1:
        return "must not be empty", None
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(str(value))}", None
    if kind == "string_pattern_mismatch":
        return _pattern_message(loc, value, str(ctx.get("pattern", "")))
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", ""))
        close = difflib.get_close_matches(str(value), re.findall(r"'([^']*)'", expected), n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        return f"{_describe(value)} is not allowed; use one of {expected}", hint
    if kind == "union_tag_invalid":
        return (f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {_describe(ctx.get('tag'))}; "
                f"use one of {ctx.get('expected_tags')}", None)
    if kind == "union_tag_not_found":
        return MISSING_PROPERTY.format(name=str(ctx.get("discriminator", "type")).strip("'")), None
    bounds = {"greater_than": "greater than", "greater_than_equal": "at least",
              "less_than": "less than", "less_than_equal": "at most"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        return f"must be {bounds[kind]} {limit}, got {_describe(value)}", None
    return message, None


_PATTERN_WORDS = {
    "id": "letters, digits, '_' and '-', starting with a letter or a digit",
    "namespace": "lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit",
}


def _pattern_message(loc: Loc, value: Any, pattern: str) -> tuple[str, str | None]:
    name = loc[-1] if loc else ""
    if name == "namespace" and len(loc) == 1:
        return f"{_describe(value)} is not a valid namespace", f"use {_PATTERN_WORDS['namespace']}"
    if name == "id":
        allowed = _PATTERN_WORDS["id"].replace("'_'", "'.', '_'") if "." in pattern else _PATTERN_WORDS["id"]
        what = "flow id" if len(loc) == 1 else "id"
        return f"{_describe(value)} is not a valid {what}", f"use {allowed}"
    return f"{_describe(value)} does not match the pattern {pattern}", None


def _weak_suggestion_dropped(message: str) -> str:
    """Drops a "did you mean" whose class name is unlike the one written: type names share
    long package prefixes, so a whole-name match can be close while useless."""
    match = re.match(r"^(unknown .*type '([^']*)')(.*)\(did you mean '([^']*)'\?\)$", message)
    if not match:
        return message
    written, suggested = match.group(2).rsplit(".", 1)[-1], match.group(4).rsplit(".", 1)[-1]
    if difflib.SequenceMatcher(None, written.lower(), suggested.lower()).ratio() >= 0.6:
        return message
    return (match.group(1) + match.group(3)).rstrip() + "; `podium plugins list` shows the known types"


def _at(data: Any, loc: Loc, key: str | None = None) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if key is None:
        return node
    return node.get(key) if isinstance(node, dict) else None


def _unknown_property(loc: Loc, data: Any, locator: Locator, registry: Registry | None) -> Problem:
    name = str(loc[-1])
    owner = _owner_model(loc[:-1], data, registry)
    known = _aliases(owner) if owner is not None else []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean '{close[0]}'?"
    elif owner is not None:
        own = [a for a in known if a not in _aliases(_base_of(owner))]
        hint = f"{'its own properties are' if own else 'known properties:'} {', '.join(own or known)}"
    else:
        hint = None
    return Problem(locator.path, locator.locate_key(loc), format_path(loc),
                   UNKNOWN_PROPERTY.format(name=name), hint)


def _owner_model(loc: Loc, data: Any, registry: Registry | None) -> type[BaseModel] | None:
    """The options model of the mapping at ``loc``, when it can be told."""
    if not loc:
        return Flow
    node = _at(data, loc)
    type_name = node.get("type") if isinstance(node, dict) else None
    if not isinstance(type_name, str):
        return None
    if len(loc) == 2 and loc[0] == "inputs" or loc[-2:-1] == ("onResume",):
        return INPUT_TYPES.get(type_name)
    spec = registry.find(type_name) if registry is not None else None
    return spec.options if spec is not None else None


def _base_of(model: type[BaseModel]) -> type[BaseModel]:
    for base in (TaskOptions, TriggerOptions, ConditionOptions):
        if issubclass(model, base):
            return base
    return model


def _aliases(model: type[BaseModel]) -> list[str]:
    return sorted(f.alias or name for name, f in model.model_fields.items())
