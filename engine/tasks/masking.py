"""L1 pure core: hide secret values in log messages, task outputs and errors.

Kestra masks every secret a task used (``RunContextLogger.usedSecret``); Podium masks every
secret value the run context knows of, in every log message, in the outputs of the task run and in
its error, as written and in the forms that give it away (``engine.tasks.secret_forms``: any
letter case, blanks or punctuation between its characters, reversed, URL / JSON / HTML / base64
encoded, slices of a token). docs/flow-language.md (*Secrets*) says what is and is not covered.

The forms are computed once per set of secrets (:class:`SecretPatterns`, built by the process's
secret source at start-up); a text is then checked with one lowercase copy without punctuation and
one Aho-Corasick pass over it (``ahocorasick_rs``), whatever the number of secrets.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from ahocorasick_rs import AhoCorasick

from engine.tasks.secret_forms import (
    MIN_MASKED_LENGTH,
    is_covered,
    literal_forms,
    located_skeleton,
    skeleton,
    skeleton_forms,
)

MASK = "******"
__all__ = ["MASK", "MIN_MASKED_LENGTH", "Masker", "SecretPatterns", "mask_text", "mask_value"]


class SecretPatterns:
    """What masking looks for, for one set of secret values; immutable, shared between threads."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = frozenset(value for value in values if value)
        literals: set[str] = set()
        needles: set[str] = set()
        for value in self.values:
            literals |= literal_forms(value)
            needles |= skeleton_forms(value)
        self._automaton = AhoCorasick(sorted(needles)) if needles else None
        # The literals the forms hide whole need no search of their own. The others are replaced
        # longest first, before the forms (a JSON secret: its braces and quotes go with it) unless
        # they sit inside another secret, which the forms must see whole first.
        searched = sorted((text for text in literals if not is_covered(text)), key=len, reverse=True)
        inside = {text for text in searched if any(text in other for other in literals if other != text)}
        self._before = tuple(text for text in searched if text not in inside)
        self._after = tuple(text for text in searched if text in inside)

    def with_values(self, *values: str) -> SecretPatterns:
        return SecretPatterns(self.values.union(values))

    def mask(self, value: Any) -> Any:
        """A copy of ``value`` with every secret replaced by ``******`` in strings, keys included."""
        if self._automaton is None and not self._before and not self._after:
            return value  # no secret long enough to mask: the outputs of most installations
        return self._masked(value)

    def _masked(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {self._masked(k): self._masked(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._masked(v) for v in value)
        return value

    def mask_text(self, text: str) -> str:
        text = _replace(text, self._before)
        if self._automaton is not None and self._automaton.find_matches_as_indexes(skeleton(text)):
            text = self._mask_forms(text)
        return _replace(text, self._after)

    def _mask_forms(self, text: str) -> str:
        """Replaces each run of ``text`` whose skeleton holds a form by one ``******``."""
        assert self._automaton is not None
        kept, where = located_skeleton(text)
        pieces: list[str] = []
        done = 0
        matches = self._automaton.find_matches_as_indexes(kept, overlapping=True)
        for start, end in _merged((start, end) for _, start, end in matches):
            pieces += [text[done:where[start]], MASK]
            done = where[end - 1] + 1
        pieces.append(text[done:])
        return "".join(pieces)


class Masker:
    """The secrets of one run context; thread-safe, as a task may log from several threads."""

    def __init__(self, values: Iterable[str] | SecretPatterns = ()) -> None:
        self._lock = threading.Lock()
        self._patterns = values if isinstance(values, SecretPatterns) else SecretPatterns(values)

    def add(self, *values: str) -> None:
        """Masks ``values`` too; a value the patterns know already costs nothing."""
        if all(value in self._patterns.values for value in values):
            return
        with self._lock:
            self._patterns = self._patterns.with_values(*values)

    @property
    def values(self) -> frozenset[str]:
        return self._patterns.values

    def mask(self, value: Any) -> Any:
        return self._patterns.mask(value)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    return SecretPatterns(secrets).mask_text(text)


def mask_value(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` with every secret replaced by ``******`` in strings, keys included."""
    return SecretPatterns(secrets).mask(value)


def _replace(text: str, literals: tuple[str, ...]) -> str:
    for literal in literals:
        if literal in text:
            text = text.replace(literal, MASK)
    return text


def _merged(matches: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` runs covering every ``(start, end)`` match, overlapping ones joined (touching
    ones stay apart: the blank between two secrets is not theirs)."""
    spans = sorted(matches)
    if not spans:
        return
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start < end:
            end = max(end, next_end)
        else:
            yield start, end
            start, end = next_start, next_end
    yield start, end
