"""L1 pure core: the `is` tests of Pebble (defined, null, empty, even, odd, iterable, map)
and Kestra (json)."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import Undefined

from engine.templating.filters_data import is_empty
from engine.templating.operators import check_defined, is_number


def defined(value: Any) -> bool:
    return not isinstance(value, Undefined)


def null(value: Any) -> bool:
    # Strict like Pebble: testing an undefined variable for null is an error, use `??`.
    check_defined(value)
    return value is None


def empty(value: Any) -> bool:
    check_defined(value)
    return is_empty(value)


def even(value: Any) -> bool:
    check_defined(value)
    return is_number(value) and value % 2 == 0


def odd(value: Any) -> bool:
    check_defined(value)
    return is_number(value) and value % 2 == 1


def iterable(value: Any) -> bool:
    check_defined(value)
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


def map_(value: Any) -> bool:
    check_defined(value)
    return isinstance(value, Mapping)


def is_json(value: Any) -> bool:
    check_defined(value)
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


TESTS: dict[str, Callable[[Any], bool]] = {
    "defined": defined, "null": null, "none": null, "empty": empty, "even": even, "odd": odd,
    "iterable": iterable, "map": map_, "json": is_json,
}
