"""L1 pure core: how a rendered condition reads as a boolean (Kestra's ``TruthUtils``).

``runIf``, the conditions of If and WaitFor, and the Expression conditions of triggers all render
an expression to text first; this decides whether that text means true.
"""
from __future__ import annotations

from typing import Any


def is_truthy(text: Any) -> bool:
    """False, 0, -0 and the empty string (trimmed) are falsy; anything else is truthy."""
    if isinstance(text, bool):
        return text
    if text is None:
        return False
    return str(text).strip() not in ("false", "0", "-0", "")
