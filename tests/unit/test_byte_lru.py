"""The byte-bounded LRU behind the variant and master caches."""

from __future__ import annotations

from delivery.images.cache import _ENTRY_OVERHEAD, ByteLRU


def lru(max_bytes: int) -> ByteLRU[bytes]:
    return ByteLRU(max_bytes, len)


def test_it_evicts_the_least_recently_used_to_stay_under_its_bytes() -> None:
    cache = lru(3 * (1000 + _ENTRY_OVERHEAD))
    for key in "abc":
        cache.put(key, b"x" * 1000)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", b"x" * 1000)
    assert cache.get("b") is None and all(cache.get(k) is not None for k in "acd")
    assert cache.size == 3 * (1000 + _ENTRY_OVERHEAD)


def test_a_value_over_the_whole_bound_is_not_kept_and_evicts_nothing() -> None:
    cache = lru(2000)
    cache.put("small", b"x" * 100)
    cache.put("huge", b"x" * 5000)
    assert cache.get("huge") is None and cache.get("small") == b"x" * 100


def test_a_bound_of_zero_keeps_nothing() -> None:
    cache = lru(0)
    cache.put("a", b"")
    assert cache.get("a") is None and cache.size == 0
