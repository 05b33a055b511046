"""L1 pure core: the random identifiers expressions make, ``ksuid()`` and ``nanoId()``.

Both are a few lines over the OS's CSPRNG (``secrets``), so no package is needed: the KSUID
packages on PyPI pull an unmaintained base-conversion package, and ``nanoid``'s last release is
from 2018.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from engine.templating.errors import ExpressionError

#: KSUID's epoch (segmentio/ksuid): 2014-05-13T16:53:20Z, so 32 bits of seconds last until 2150.
KSUID_EPOCH = 1_400_000_000
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_LENGTH = 27  # 20 bytes in base62, left-padded with '0'

NANOID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
NANOID_LENGTH = 21
NANOID_MAX_LENGTH = 1000  # Kestra's limit


def ksuid_of(raw: bytes) -> str:
    """The 27-character base62 text of a 20-byte KSUID (4 bytes of seconds, 16 random)."""
    number, digits = int.from_bytes(raw, "big"), []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits)).rjust(_KSUID_LENGTH, "0")


def ksuid() -> str:
    """A K-Sortable Unique IDentifier: ids made in a later second sort after earlier ones."""
    seconds = int(time.time()) - KSUID_EPOCH
    return ksuid_of(seconds.to_bytes(4, "big") + secrets.token_bytes(16))


def nano_id(length: Any = NANOID_LENGTH, alphabet: Any = NANOID_ALPHABET) -> str:
    """``nanoId(length=21, alphabet=...)``: ``length`` characters drawn uniformly from ``alphabet``."""
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= NANOID_MAX_LENGTH:
        raise ExpressionError(f"nanoId(): `length` must be a whole number from 1 to {NANOID_MAX_LENGTH}, "
                              f"not {length!r}")
    if not isinstance(alphabet, str) or not alphabet:
        raise ExpressionError("nanoId(): `alphabet` must be a non-empty string of the characters to draw from")
    return "".join(secrets.choice(alphabet) for _ in range(length))
