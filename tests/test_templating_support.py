"""Test doubles for templating: an ExpressionIO with fixed data and a fixed clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.templating import ExpressionError


@dataclass
class FakeIO:
    clock: datetime = datetime(2024, 7, 9, 6, 17, 1, 171193, tzinfo=UTC)
    secrets: dict[str, str] = field(default_factory=dict)
    store: dict[tuple[str, str], Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    key: bytes | None = None

    def secret(self, key: str) -> str:
        return self.secrets[key]

    def kv(self, namespace: str, key: str, error_on_missing: bool) -> Any:
        if (namespace, key) not in self.store and error_on_missing:
            raise ExpressionError(f"KV key `{key}` not found in namespace `{namespace}`")
        return self.store.get((namespace, key))

    def read(self, path: str) -> str:
        return self.files[path]

    def file_size(self, path: str) -> int:
        return len(self.files[path].encode("utf-8"))

    def file_exists(self, path: str) -> bool:
        return path in self.files

    def now(self) -> datetime:
        return self.clock

    def encryption_key(self) -> bytes | None:
        return self.key
