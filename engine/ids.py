"""L1 pure core: Kestra-style identifiers (a UUID written in base62, 22 characters)."""
from __future__ import annotations

import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Any fixed namespace: derived ids only need to be the same for the same parts.
_DERIVED = uuid.UUID("6f1c2a4e-5d3b-4c8a-9e7f-0b1d2c3e4f50")


def new_id() -> str:
    """A new 22-character base62 id, like Kestra's ``IdUtils.create()``."""
    return _base62(uuid.uuid4().int)


def derived_id(*parts: object) -> str:
    """The same 22-character id for the same ``parts`` (a name-based UUID): what a command that
    may run twice creates (a subflow's child) is found again instead of created twice."""
    return _base62(uuid.uuid5(_DERIVED, "\x1f".join(str(part) for part in parts)).int)


def _base62(number: int) -> str:
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars)).rjust(22, "0")
