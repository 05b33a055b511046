"""L1 pure core: the time and size budget every expression runs under.

A render gets a deadline (``ExpressionLimits.timeout_seconds``) that the sandbox checks at every
function, filter and operator call, every 1,024 loop iterations and every output chunk; what a
single C-level step could blow up (a range, a string built by a filter, a huge integer product,
a value serialised to text) is checked against the size caps before it is built. The budget
lives on the thread (one render per thread at a time; a nested ``render()`` shares the outer one).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from engine.templating.errors import ExpressionError
from engine.templating.output import Entry

#: Python refuses to print an integer of more than 4,300 digits; a product is refused before it
#: gets there, because multiplying huge integers holds the interpreter lock for minutes.
MAX_INTEGER_BITS = 14_300
_CHECK_EVERY = 1024  # loop iterations / serialised nodes between two looks at the clock
_SETTING = "expressions"


@dataclass(frozen=True)
class ExpressionLimits:
    """What one expression may use; ``Settings.expressions`` (PODIUM_EXPRESSIONS__...) sets them."""

    timeout_seconds: float = 10.0
    max_text_length: int = 20_000_000      # characters of one string, and of a rendered template
    max_collection_size: int = 1_000_000   # items of one list or map (range() included)
    jq_memory_mb: int = 512                # address space of the jq helper process
    http_enabled: bool = True              # whether http() may make requests at all
    http_max_response_bytes: int = 10_000_000  # largest response body http() reads


class _Clock(threading.local):
    deadline: float | None = None


class Budget:
    """The limits of one Renderer and the deadline of the render running on this thread."""

    def __init__(self, limits: ExpressionLimits | None = None) -> None:
        self.limits = limits or ExpressionLimits()
        self._clock = _Clock()

    # -- time ---------------------------------------------------------------------------
    def start(self) -> bool:
        """Start this thread's deadline; False when a render is already running (nested)."""
        if self._clock.deadline is not None:
            return False
        self._clock.deadline = time.monotonic() + self.limits.timeout_seconds
        return True

    def stop(self) -> None:
        self._clock.deadline = None

    def check_time(self) -> None:
        deadline = self._clock.deadline
        if deadline is not None and time.monotonic() > deadline:
            raise self.timeout_error()

    def timeout_error(self) -> ExpressionError:
        return ExpressionError(f"Expression stopped after its time budget of {self.limits.timeout_seconds:g} s "
                               f"({_SETTING}.timeout_seconds)")

    def remaining(self) -> float:
        """Seconds left to this thread's render (the whole budget outside a render)."""
        deadline = self._clock.deadline
        if deadline is None:
            return self.limits.timeout_seconds
        return max(0.0, deadline - time.monotonic())

    def iterate(self, items: Iterable[Any]) -> Iterator[Any]:
        """``items``, looking at the clock every 1,024 of them (loops with an empty body)."""
        for index, item in enumerate(items):
            if not index % _CHECK_EVERY:
                self.check_time()
            yield item

    # -- sizes --------------------------------------------------------------------------
    def check_size(self, value: Any) -> Any:
        """``value`` if it is within the caps (a string, a collection, an integer)."""
        if isinstance(value, str):
            self.check_text(len(value))
        elif isinstance(value, (list, tuple, Mapping)):
            self.check_items(len(value))
        elif isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
            raise ExpressionError(f"Integer too large: more than {MAX_INTEGER_BITS} bits")
        return value

    def check_text(self, length: int) -> None:
        if length > self.limits.max_text_length:
            raise ExpressionError(
                f"Text too long: {length:,} characters, over the limit of {self.limits.max_text_length:,} "
                f"({_SETTING}.max_text_length)")

    def check_items(self, count: int) -> None:
        if count > self.limits.max_collection_size:
            raise ExpressionError(
                f"Too many items: {count:,}, over the limit of {self.limits.max_collection_size:,} "
                f"({_SETTING}.max_collection_size)")

    def check_product(self, left: int, right: int) -> None:
        if left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
            raise ExpressionError(f"Integer too large: the product would have more than {MAX_INTEGER_BITS} bits")

    def check_serialisable(self, value: Any) -> None:
        """Refuse a value whose text (JSON or Java ``toString``) would exceed the text cap.

        Counted on the expanded tree, so a list nesting the same list twice per level, which
        costs nothing to build and doubles its text at each level, is refused before the
        serialiser (C code, not interruptible) starts on it.
        """
        if type(value) is str or type(value) in _SCALARS or not isinstance(value, _CONTAINERS):
            return
        limit, total, visited = self.limits.max_text_length, 0, 0
        pending: list[Any] = [value]
        while pending:
            item = pending.pop()
            visited += 1
            if not visited % _CHECK_EVERY:
                self.check_time()
            if type(item) is dict or (type(item) is not list and isinstance(item, Mapping)):
                total += 2 + _weigh(chain(item.keys(), item.values()), pending)
            elif type(item) is Entry:
                total += _weigh((item.key, item.value), pending)
            else:
                total += 2 + _weigh(item, pending)
            if total > limit:
                raise ExpressionError(
                    f"Value too large to write as text: over {limit:,} characters ({_SETTING}.max_text_length)")


# Concrete types first: an isinstance check against the Mapping ABC runs Python code.
_CONTAINERS = (dict, list, tuple, Entry, set, frozenset, Mapping)
_SCALARS = frozenset({int, float, bool, type(None)})


def _weigh(items: Iterable[Any], pending: list[Any]) -> int:
    """The text length of the strings and scalars among ``items`` (a separator each); the
    containers among them go to ``pending``."""
    total = 0
    for item in items:
        kind = type(item)
        if kind is str:
            total += len(item) + 3
        elif kind in _SCALARS:
            total += 8
        elif isinstance(item, _CONTAINERS):
            pending.append(item)
        else:
            total += 32  # dates, decimals
    return total
