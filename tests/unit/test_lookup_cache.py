"""The lookup caches' own rules: entry and time bounds, and what each notification drops."""

from __future__ import annotations

import time

import pytest

from delivery.assets.lookups import Bounded, LookupChange, Lookups


def test_an_entry_is_gone_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: Bounded[str, int] = Bounded(10, ttl=5)
    cache.put("a", 1)
    now[0] = 104.9
    assert cache.get("a") == 1
    now[0] = 105.0
    assert cache.get("a") is None and len(cache) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: Bounded[str, int] = Bounded(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_no_entries_keeps_nothing() -> None:
    cache: Bounded[str, int] = Bounded(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


def test_a_notification_drops_only_its_row_and_what_was_derived() -> None:
    lookups = Lookups(entries=100, ttl=60)
    lookups.styles.put((1, "ink"), "ink of 1")  # type: ignore[arg-type]  # any value stands in for a row here
    lookups.styles.put((2, "ink"), "ink of 2")  # type: ignore[arg-type]  # as above
    lookups.keys.put("pk_a", "key a")  # type: ignore[arg-type]  # as above
    lookups.remember("target", "derived", lookups.epoch)
    lookups.changed(LookupChange(table="styles", project="1", name="ink"))
    assert lookups.styles.get((1, "ink")) is None
    assert lookups.styles.get((2, "ink")) == "ink of 2" and lookups.keys.get("pk_a") == "key a"
    assert lookups.derived("target") is None  # any change: a derived value may have used the row


def test_a_value_derived_before_a_change_is_not_kept() -> None:
    lookups = Lookups(entries=100, ttl=60)
    started = lookups.epoch
    lookups.changed(LookupChange(table="api_keys", project="1", name="pk_a"))  # arrives while the value is computed
    lookups.remember("target", "derived from the old row", started)
    assert lookups.derived("target") is None
