"""L1 pure core: the regular expressions flow authors write (``split``, ``replace(..., regexp=true)``).

They run on the ``regex`` package rather than ``re``: its syntax is closer to Java's (named groups
``(?<name>...)``, possessive quantifiers, atomic groups, lookbehind), its matching takes a
``timeout`` that it enforces inside its C loop, and ``concurrent=True`` gives the interpreter lock
back while it matches, so a catastrophic pattern (``(a|aa)+$``) neither outlives its expression's
budget nor stalls the process's other threads. Compiling is the one step without a timeout, and
counted repeats are expanded by the compiler (``(a{1000}){1000}`` is a million nodes): a pattern
whose expansion exceeds ``MAX_PATTERN_SIZE`` is refused before it is compiled.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeAlias

import regex

from engine.templating.errors import ExpressionError

#: Expanded size of a pattern (atoms, counted repeats multiplied out); compiling one this size
#: takes about 0.2 s.
MAX_PATTERN_SIZE = 100_000
Match: TypeAlias = "regex.Match[str]"
_METACHARACTERS = frozenset("\\.^$|?*+()[]{}")
_REPEAT = regex.compile(r"\{(\d+)(?:,\d*)?\}")


def is_literal(pattern: str) -> bool:
    """Whether ``pattern`` matches only itself (no metacharacter), so ``str`` methods can search it:
    the common ``split(',')`` then costs no regex engine and no timeout bookkeeping."""
    return bool(pattern) and not _METACHARACTERS.intersection(pattern)


def literal_spans(text: str, literal: str) -> Iterator[tuple[int, int]]:
    """Where ``literal`` (not empty) occurs in ``text``, left to right, without overlaps."""
    index = text.find(literal)
    while index >= 0:
        yield index, index + len(literal)
        index = text.find(literal, index + len(literal))


def java_regex(pattern: str) -> regex.Pattern[str]:
    """Compile a Java regex; a pattern too large or invalid is a one-line ExpressionError."""
    if pattern_size(pattern) > MAX_PATTERN_SIZE:
        raise ExpressionError(f"Regular expression too large: `{pattern[:100]}` expands to more than "
                              f"{MAX_PATTERN_SIZE:,} elements (lower its counted repeats such as {{1000}})")
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError) as error:
        raise ExpressionError(f"Invalid regular expression `{pattern[:100]}`: {error}") from None


def pattern_size(pattern: str) -> int:
    """An upper bound of the nodes the compiler makes: atoms, each counted repeat ``{n}`` or
    ``{n,m}`` multiplying what it repeats by ``n`` (the copies the compiler writes out)."""
    groups: list[list[int]] = [[0, 0]]  # per open group: [size so far, size of its last atom]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        repeat = _REPEAT.match(pattern, index) if char == "{" else None
        if repeat is not None:
            current = groups[-1]
            current[0] += current[1] * (max(int(repeat.group(1)), 1) - 1)
            current[1] *= max(int(repeat.group(1)), 1)
            index = repeat.end()
            continue
        if char == "(":
            groups.append([0, 0])
            index += 1
            continue
        atom, index = _atom(pattern, index, groups)
        groups[-1][0] += atom
        groups[-1][1] = atom
    return sum(size for size, _ in groups)


def _atom(pattern: str, index: int, groups: list[list[int]]) -> tuple[int, int]:
    """Size and end of the atom at ``index`` (a closing paren closes the open group)."""
    char = pattern[index]
    if char == "\\":
        return 1, index + 2
    if char == "[":
        return 1, _class_end(pattern, index)
    if char == ")" and len(groups) > 1:
        size, _ = groups.pop()
        return max(size, 1), index + 1
    return 1, index + 1


def _class_end(pattern: str, index: int) -> int:
    index += 1
    if pattern[index:index + 1] == "^":
        index += 1
    if pattern[index:index + 1] == "]":
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def substitute(pattern: regex.Pattern[str], replacement: str, text: str,
               matches: Iterable[Match] | None = None,
               check_length: Callable[[int], None] | None = None) -> str:
    """``text`` with each of ``matches`` (default: every match of ``pattern``) replaced, Java style
    (``$1`` is group 1); ``check_length`` sees the result's length as it grows, and may raise."""
    pieces: list[str] = []
    length, start = 0, 0
    template = regex.sub(r"\$(\d+)", r"\\g<\1>", replacement.replace("\\", "\\\\"))
    for match in pattern.finditer(text) if matches is None else matches:
        piece = match.expand(template)
        length += match.start() - start + len(piece)
        if check_length is not None:
            check_length(length)
        pieces += (text[start:match.start()], piece)
        start = match.end()
    pieces.append(text[start:])
    return "".join(pieces)
