from __future__ import annotations

import pytest

from model.lru import LRUCache


def test_keeps_the_most_recently_used_entries():
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_get_or_make_computes_once_per_key():
    cache: LRUCache[int] = LRUCache(4)
    calls = []
    for _ in range(3):
        cache.get_or_make("k", lambda: calls.append(1) or 7)
    assert calls == [1] and cache.get("k") == 7


def test_refuses_an_empty_cache():
    with pytest.raises(ValueError, match="at least one entry"):
        LRUCache(0)
