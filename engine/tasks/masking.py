"""L1 pure core: hide secret values in log messages and task outputs.

Kestra masks every secret a task used (``RunContextLogger.usedSecret``); Podium masks every
secret value the run context knows of, in every log message and in the outputs of the task run.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

MASK = "******"
# A secret shorter than this would mask ordinary text (every "a", every "1"), so it is not masked.
MIN_MASKED_LENGTH = 3


class Masker:
    """The set of secret values to hide; thread-safe, as a task may log from several threads."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self.add(*values)

    def add(self, *values: str) -> None:
        with self._lock:
            known = set(self._values)
            for value in values:
                # a multi-line secret (a PEM key) is also masked line by line, as logs may split it
                lines = [line.strip() for line in value.splitlines()] if "\n" in value else []
                for candidate in (value, *lines):
                    if len(candidate) >= MIN_MASKED_LENGTH:
                        known.add(candidate)
            # longest first, so that a secret containing another one is masked whole
            self._values = tuple(sorted(known, key=len, reverse=True))

    @property
    def values(self) -> tuple[str, ...]:
        return self._values

    def mask(self, value: Any) -> Any:
        return mask_value(value, self._values)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_value(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` with every secret replaced by ``******`` in strings, keys included."""
    # longest first, so that a secret containing another one is masked whole
    secrets = tuple(sorted(set(secrets), key=len, reverse=True))
    if not secrets:
        return value
    return _mask(value, secrets)


def _mask(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        return {_mask(k, secrets): _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask(v, secrets) for v in value)
    return value
