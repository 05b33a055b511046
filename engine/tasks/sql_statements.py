"""L1 pure core: the statements of an SQL text, and Kestra's ``:name`` parameters in each driver's style.

One scanner walks the text and skips what is not SQL code: quoted strings and identifiers,
``--`` and ``/* */`` comments, and PostgreSQL's ``$tag$`` bodies, so that a ``;`` or ``:name``
inside them is left alone, and ``::`` casts are never taken for a parameter.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _skip(text: str, i: int) -> int:
    """The index after the string, identifier, comment or dollar body starting at ``i``, or ``i``."""
    char = text[i]
    if char in "'\"`":
        end = i + 1
        while end < len(text):
            if text[end] == char:
                if end + 1 < len(text) and text[end + 1] == char:  # '' escapes a quote
                    end += 2
                    continue
                return end + 1
            end += 1
        return len(text)
    if text.startswith("--", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if char == "$":
        tag = _DOLLAR_TAG.match(text, i)
        if tag:
            end = text.find(tag.group(0), tag.end())
            return len(text) if end < 0 else end + len(tag.group(0))
    return i


def split_statements(sql: str) -> list[str]:
    """The non-empty statements of ``sql``, split on top-level ``;``."""
    statements, start, i = [], 0, 0
    while i < len(sql):
        after = _skip(sql, i)
        if after != i:
            i = after
            continue
        if sql[i] == ";":
            statements.append(sql[start:i])
            start = i + 1
        i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    i = 0
    while i < len(statement):
        after = _skip(statement, i)
        if after != i and statement[i] not in "'\"`$":
            i = after
            continue
        if not statement[i].isspace():
            return True
        i += 1
    return False


def bind_parameters(sql: str, parameters: Mapping[str, Any], placeholder: Callable[[str], str],
                    escape_percent: bool = False) -> str:
    """``sql`` with each ``:name`` of ``parameters`` replaced by ``placeholder(name)``; a ``:name``
    not in ``parameters`` is left as written. ``escape_percent`` doubles ``%`` (psycopg's format)."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        after = _skip(sql, i)
        if after != i:
            out.append(sql[i:after].replace("%", "%%") if escape_percent else sql[i:after])
            i = after
            continue
        char = sql[i]
        if char == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
            continue
        if char == ":":
            name = _NAME.match(sql, i + 1)
            if name and name.group(0) in parameters:
                out.append(placeholder(name.group(0)))
                i = name.end()
                continue
        out.append("%%" if escape_percent and char == "%" else char)
        i += 1
    return "".join(out)
