"""L1 pure core: JSON written by people Podium does not trust, read within limits.

The JSON twin of ``engine.safe_yaml``, for run inputs (``--inputs``, ``-i x=...`` of a JSON input):
Python's parser ends in a RecursionError on ``[[[[…`` and in a ValueError about
``sys.set_int_max_str_digits`` on an integer of thousands of digits, and it accepts ``NaN`` and
``Infinity``, which JSON (and PostgreSQL's json type) do not. Here each is one clear ValueError, and
values nest at most :data:`MAX_DEPTH` deep, as in YAML.
"""
from __future__ import annotations

import json
import math
from typing import Any

from engine.safe_yaml import MAX_CHARS, MAX_DEPTH, MAX_NUMBER_DIGITS


class JsonLimitError(ValueError):
    """A JSON text is invalid or breaks a limit; the message says which, in one line."""


def loads(text: str | bytes) -> Any:
    """The value of the JSON ``text``.

    Raises:
        JsonLimitError: invalid JSON, more than ``MAX_CHARS`` characters, nested deeper than
            ``MAX_DEPTH``, a number longer than ``MAX_NUMBER_DIGITS``, or ``NaN``/``Infinity``.
    """
    if len(text) > MAX_CHARS:
        raise JsonLimitError(f"the JSON text has {len(text):,} characters, more than the limit of {MAX_CHARS:,}")
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise JsonLimitError(f"{err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise JsonLimitError(too_deep()) from None
    check_depth(value)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raises JsonLimitError when lists and mappings in ``value`` nest deeper than ``max_depth``
    (iterative: a value too deep to recurse into is measured all the same)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JsonLimitError(too_deep(max_depth))
        stack.extend((child, depth + 1) for child in children)


def too_deep(max_depth: int = MAX_DEPTH) -> str:
    return f"the value is nested more than {max_depth} levels deep; flatten it"


def _integer(text: str) -> int:
    _check_length(text)
    return int(text)


def _number(text: str) -> float:
    _check_length(text)
    number = float(text)
    if math.isinf(number):
        raise JsonLimitError(f"the number {text} is out of the range of a 64-bit float; send it as a string")
    return number


def _check_length(text: str) -> None:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JsonLimitError(f"a number of {len(text):,} characters is longer than the limit of "
                             f"{MAX_NUMBER_DIGITS:,}; send it as a string")


def _constant(text: str) -> Any:
    raise JsonLimitError(f"{text} is not a JSON number; send it as a string or null")
