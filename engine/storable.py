"""L1 pure core: text and JSON as both databases store them.

PostgreSQL refuses a NUL character in text and in JSONB (``\\u0000``), and a NaN or an infinity
in JSONB; SQLite keeps them. Neither takes a lone surrogate (half of a UTF-16 pair, which
``json.loads('"\\ud800"')`` makes), as UTF-8 cannot encode one. Refusing them would make a task's
result unwritable (its attempt retried forever), and storing them on one database only would make
a flow's outcome depend on the database. So every value goes in the same way on both: a NUL or a
lone surrogate becomes U+FFFD (the Unicode replacement character: one character for one, so
lengths and positions hold), a non-finite number the string ``"NaN"``, ``"Infinity"`` or
``"-Infinity"`` (as Kestra's Jackson writes them).

Used by the database layer (``engine.persistence.types``: the JSON serializer, text columns) and by
the task runner on outputs (``engine.tasks.runner``), so that a chained task sees what the
database holds. The checks are substring searches in C; the replacement is only paid by the values
that need it.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text as json.dumps writes it (ASCII): an escaped backslash (kept, and consumed so the
# text after it is not read as an escape), a surrogate pair (kept), a lone surrogate or a NUL.
_JSON_ESCAPES = re.compile(r"\\\\|\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|\\ud[89a-f][0-9a-f]{2}|\\u0000")
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
# Built once: json.dumps with any option builds an encoder per call (a third of a small row's cost).
_STRICT = json.JSONEncoder(allow_nan=False)


def storable(text: str) -> str:
    """``text`` with its NUL characters and lone surrogates replaced by U+FFFD."""
    if _NUL in text:
        text = text.replace(_NUL, REPLACEMENT)
    if not text.isascii() and _has_surrogate(text):
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text


def dumps_json(value: Any) -> str:
    """The JSON text of ``value`` as both databases store it: NULs and lone surrogates as U+FFFD,
    non-finite numbers as strings; anything else exactly as ``json.dumps`` writes it."""
    try:
        text = _STRICT.encode(value)
    except ValueError as error:
        if "Out of range float values" not in str(error):
            raise  # a circular reference
        text = json.dumps(finite(value))
    if "\\u0000" in text or "\\ud" in text:
        text = _JSON_ESCAPES.sub(_storable_escape, text)
    return text


def finite(value: Any) -> Any:
    """``value`` with its NaN and infinities as strings ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _storable_escape(match: re.Match[str]) -> str:
    escape = match.group()
    return "\\ufffd" if len(escape) == 6 else escape  # a NUL or a lone surrogate; not \\\\ or a pair
