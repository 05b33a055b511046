"""L1 pure core: AES-GCM for encrypt()/decrypt(), Kestra's layout: base64(iv[12] + ciphertext + tag)."""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.templating.errors import ExpressionError
from engine.templating.io import ExpressionIO

_IV_LENGTH = 12
_KEY_LENGTHS = (16, 24, 32)


def resolve_key(key: str | bytes | None, io: ExpressionIO) -> bytes:
    """The AES key: the argument (raw or base64 text) or, when absent, the configured one."""
    if key is None or key == "":
        configured = io.encryption_key()
        if not configured:
            raise ExpressionError("encrypt()/decrypt() need a key: none was given and no "
                                  "encryption key is configured")
        return _check(configured)
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if len(raw) in _KEY_LENGTHS:
        return raw
    try:
        return _check(base64.b64decode(raw, validate=True))
    except binascii.Error:
        return _check(raw)


def _check(key: bytes) -> bytes:
    if len(key) not in _KEY_LENGTHS:
        raise ExpressionError(f"The AES key must be 16, 24 or 32 bytes long, not {len(key)}")
    return key


def encrypt(key: bytes, plaintext: str) -> str:
    # A random IV is not I/O or clock: it is the one place randomness is required.
    iv = os.urandom(_IV_LENGTH)
    sealed = AESGCM(key).encrypt(iv, str(plaintext).encode("utf-8"), None)
    return base64.b64encode(iv + sealed).decode("ascii")


def decrypt(key: bytes, encrypted: str) -> str:
    try:
        data = base64.b64decode(str(encrypted).encode("ascii"), validate=True)
        plain = AESGCM(key).decrypt(data[:_IV_LENGTH], data[_IV_LENGTH:], None)
    except (binascii.Error, ValueError, InvalidTag):
        raise ExpressionError("decrypt(): the value is not valid for this key "
                              "(expected base64 of a 12-byte IV followed by AES-GCM ciphertext)") from None
    return plain.decode("utf-8")
