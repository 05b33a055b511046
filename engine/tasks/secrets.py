"""L2 adapter: Kestra's open-source secrets, read from ``SECRET_<NAME>`` environment variables.

Values are base64 (line breaks allowed) and decoded once, when the source is built, as Kestra
does at startup; the forms masking looks for are computed then too (``patterns``). The lookup is
case-insensitive: ``secret('my_key')`` reads ``SECRET_MY_KEY``.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping

from engine.errors import PodiumError
from engine.tasks.masking import SecretPatterns

PREFIX = "SECRET_"


class SecretDecodeError(PodiumError, ValueError):
    pass


class EnvSecrets:
    """Secrets from an environment mapping (pass ``os.environ`` in a process, a dict in tests)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._secrets: dict[str, str] = {}
        # A badly encoded secret must not stop the process: it fails only when a flow reads it.
        self._invalid: dict[str, SecretDecodeError] = {}
        for name, value in environ.items():
            if not name.upper().startswith(PREFIX):
                continue
            try:
                self._secrets[name[len(PREFIX):].upper()] = _decode(name, value)
            except SecretDecodeError as error:
                self._invalid[name[len(PREFIX):].upper()] = error
        self.patterns = SecretPatterns(self._secrets.values())

    def get(self, name: str) -> str | None:
        """The decoded secret; raises SecretDecodeError if its variable is not valid base64."""
        error = self._invalid.get(name.upper())
        if error is not None:
            raise error
        return self._secrets.get(name.upper())

    def values(self) -> Iterable[str]:
        return tuple(self._secrets.values())

    def names(self) -> list[str]:
        return sorted(self._secrets)


def _decode(name: str, value: str) -> str:
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise SecretDecodeError(
            f"environment variable {name} is not valid base64 ({error}); secrets must be base64-encoded, "
            f"e.g. export {name}=$(printf '%s' 'my value' | base64 -w0)") from None
