"""In-process cache-aside. The cache is never the source of truth.

Entries expire after ttl_s and the oldest are evicted past max_entries, so
memory stays bounded. Redis as a second level comes with the intelligence
work; callers already use only get_or_load and invalidate.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter

CACHE_LOOKUPS = Counter("cache_lookups_total", "Cache lookups by cache and result.", ["cache", "result"])


class MemoryCache:
    def __init__(self, name: str, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self._name = name
        self._ttl_s = ttl_s
        self._max = max_entries
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            self._data.move_to_end(key)
            CACHE_LOOKUPS.labels(self._name, "hit").inc()
            return hit[1]
        CACHE_LOOKUPS.labels(self._name, "miss").inc()
        value = await load()
        self._data[key] = (time.monotonic() + self._ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)
        return value

    async def invalidate(self, key: str) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)
