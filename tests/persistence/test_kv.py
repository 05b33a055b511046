"""KVRepository contract: types, ttl and expiry, listing, the task-layer adapter."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.persistence.db import Database
from engine.persistence.kv_entries import KVExpired, KVRepository
from engine.plugins.core.kv import KVType
from engine.tasks.protocols import KVEntry
from tests.persistence.factories import at


@pytest.fixture
def kv(db: Database) -> KVRepository:
    return KVRepository(db)


@pytest.mark.parametrize(("value", "kind"), [
    ("text", KVType.STRING),
    (42, KVType.NUMBER),
    (1.5, KVType.NUMBER),
    (True, KVType.BOOLEAN),
    (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), KVType.DATETIME),
    (date(2024, 1, 2), KVType.DATE),
    (timedelta(minutes=5), KVType.DURATION),
    ({"a": [1, {"b": None}]}, KVType.JSON),
    ([1, "two"], KVType.JSON),
])
def test_type_is_inferred_and_value_round_trips(kv: KVRepository, value: object,
                                                kind: KVType) -> None:
    kv.set("ns", "key", value, at(0))
    entry = kv.get("ns", "key", at(1))
    assert entry is not None
    assert (entry.type, entry.value) == (kind, value)
    assert type(entry.value) is type(value)


def test_explicit_type_parses_text(kv: KVRepository) -> None:
    assert kv.set("ns", "d", "PT1H30M", at(0), kind=KVType.DURATION).value == timedelta(hours=1.5)
    assert kv.set("ns", "n", "12", at(0), kind=KVType.NUMBER).value == 12
    assert kv.set("ns", "j", '{"x": 1}', at(0), kind=KVType.JSON).value == {"x": 1}
    assert kv.set("ns", "b", "TRUE", at(0), kind=KVType.BOOLEAN).value is True
    with pytest.raises(ValueError):
        kv.set("ns", "bad", "abc", at(0), kind=KVType.NUMBER)


def test_ttl_sets_expiration_and_expired_get_raises(kv: KVRepository) -> None:
    entry = kv.set("ns", "k", "v", at(0), ttl=timedelta(seconds=60))
    assert entry.expiration == at(60)
    assert kv.get("ns", "k", at(59)) is not None
    with pytest.raises(KVExpired, match="key 'k' in namespace 'ns' expired"):
        kv.get("ns", "k", at(60))
    assert kv.get_any("ns", "k") is not None


def test_overwrite_keeps_created_and_clears_ttl(kv: KVRepository) -> None:
    kv.set("ns", "k", "v1", at(0), ttl=timedelta(seconds=10))
    kv.set("ns", "k", 2, at(5), description="second")
    entry = kv.get("ns", "k", at(100))
    assert entry is not None
    assert (entry.value, entry.type, entry.expiration) == (2, KVType.NUMBER, None)
    assert (entry.created, entry.updated, entry.description) == (at(0), at(5), "second")


def test_missing_key_is_none_and_delete(kv: KVRepository) -> None:
    assert kv.get("ns", "nope", at(0)) is None
    kv.set("ns", "k", "v", at(0))
    kv.set("other", "k", "v", at(0))
    assert kv.delete("ns", "k") is True
    assert kv.delete("ns", "k") is False
    assert kv.get("ns", "k", at(0)) is None
    assert kv.get("other", "k", at(0)) is not None


def test_list_is_sorted_scoped_and_hides_expired(kv: KVRepository) -> None:
    kv.set("ns", "b", 1, at(0))
    kv.set("ns", "a", 1, at(1), ttl=timedelta(seconds=30))
    kv.set("ns", "c_old", 1, at(0), ttl=timedelta(seconds=5))
    kv.set("other", "z", 1, at(0))
    assert [e.key for e in kv.list("ns", at(10))] == ["a", "b"]
    assert [e.key for e in kv.list("ns", at(10), include_expired=True)] == ["a", "b", "c_old"]
    assert [e.key for e in kv.list("ns", at(10), prefix="c", include_expired=True)] == ["c_old"]
    listed = kv.list("ns", at(10))[0]
    assert (listed.created, listed.expiration) == (at(1), at(31))


def test_prefix_is_literal_not_a_pattern(kv: KVRepository) -> None:
    kv.set("ns", "a_1", 1, at(0))
    kv.set("ns", "ab", 1, at(0))
    assert [e.key for e in kv.list("ns", at(0), prefix="a_")] == ["a_1"]


def test_purge_expired(kv: KVRepository) -> None:
    kv.set("ns", "old", 1, at(0), ttl=timedelta(seconds=1))
    kv.set("ns", "new", 1, at(0))
    assert kv.purge_expired(at(2)) == 1
    assert [e.key for e in kv.list("ns", at(2), include_expired=True)] == ["new"]


def test_adapter_implements_the_task_kv_store(kv: KVRepository) -> None:
    store = kv.as_store(clock=lambda: at(0))
    store.set("ns", KVEntry(key="k", value={"x": 1}, expiration_date=at(30), description="d"))
    store.set("ns", KVEntry(key="when", value="2024-01-01"))
    assert store.get("ns", "k") == KVEntry(key="k", value={"x": 1}, expiration_date=at(30),
                                           description="d")
    assert [e.key for e in store.list("ns")] == ["k", "when"]
    assert store.delete("ns", "k") and store.get("ns", "k") is None


def test_namespaces_are_the_tree_under_a_namespace_holding_keys(kv: KVRepository) -> None:
    for namespace in ("a.b", "a.b.c", "a.b.c.d", "a.bc", "a", "a_b", "x"):
        kv.set(namespace, "k", 1, at(0))
    assert kv.namespaces("a.b") == ["a.b", "a.b.c", "a.b.c.d"]
    assert kv.namespaces("a") == ["a", "a.b", "a.b.c", "a.b.c.d", "a.bc"]  # not a_b: '_' is no wildcard
    assert kv.namespaces("nothing") == []
    assert kv.as_store(lambda: at(0)).namespaces("a.b.c") == ["a.b.c", "a.b.c.d"]
