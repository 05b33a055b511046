"""L2 adapter: render a dynamic property through the run context and check its type.

Kestra's ``runContext.render(property).as(Type.class)``: literals pass through, expressions are
rendered and the result converted, with an error naming the property when it cannot be. The
helpers take any :class:`~engine.tasks.protocols.PropertyRenderer` (a run context in practice).
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from engine.durations import DurationError, parse_duration
from engine.tasks.outcome import TaskFailed
from engine.tasks.protocols import PropertyRenderer

_TRUE = ("true",)
_FALSE = ("false", "")


def as_bool(ctx: PropertyRenderer, value: Any, name: str) -> bool:
    rendered = ctx.render(value, typed=True)
    if isinstance(rendered, bool):
        return rendered
    text = str(rendered).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise TaskFailed(f"property '{name}' rendered to '{rendered}', which is not a boolean (true or false)")


def as_int(ctx: PropertyRenderer, value: Any, name: str) -> int:
    rendered = ctx.render(value, typed=True)
    try:
        if isinstance(rendered, bool):
            raise ValueError
        return int(str(rendered).strip()) if not isinstance(rendered, int) else rendered
    except ValueError:
        raise TaskFailed(f"property '{name}' rendered to '{rendered}', which is not an integer") from None


def as_text(ctx: PropertyRenderer, value: Any, name: str) -> str:
    rendered = ctx.render(value)
    if rendered is None:
        raise TaskFailed(f"property '{name}' is required but rendered to nothing")
    return rendered if isinstance(rendered, str) else json.dumps(rendered)


def as_duration(ctx: PropertyRenderer, value: Any, name: str) -> timedelta:
    rendered = ctx.render(value)
    try:
        return parse_duration(str(rendered))
    except DurationError as error:
        raise TaskFailed(f"property '{name}': {error}") from None


def as_list(ctx: PropertyRenderer, value: Any, name: str) -> list[Any]:
    """A list, or a string that renders to a JSON array (Kestra accepts both for file lists)."""
    rendered = ctx.render(value, typed=True)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except json.JSONDecodeError:
            rendered = [rendered]
    if not isinstance(rendered, list):
        raise TaskFailed(f"property '{name}' must be a list or a JSON array, got {type(rendered).__name__}")
    return rendered


def is_truthy(value: Any) -> bool:
    """Kestra's TruthUtils: false, 0, -0, empty and null are falsy, anything else is truthy."""
    if value is None or value is False:
        return False
    return str(value).strip().lower() not in ("false", "0", "-0", "", "0.0", "null")
