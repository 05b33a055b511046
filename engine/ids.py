"""L1 pure core: Kestra-style identifiers (a random UUID written in base62, 22 characters)."""
from __future__ import annotations

import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    """A new 22-character base62 id, like Kestra's ``IdUtils.create()``."""
    number = uuid.uuid4().int
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars)).rjust(22, "0")
