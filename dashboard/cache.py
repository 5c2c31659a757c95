"""A small per-app cache of store reads (one per :class:`wattlens.dashboard.queries.DashboardData`;
nothing is kept at module level)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    """A thread-safe LRU cache whose entries expire after ``ttl`` [s] (0: no caching)."""

    def __init__(self, ttl: float, maxsize: int = 256) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``compute()`` (then cached)."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()
        if self.ttl > 0:
            with self._lock:
                self._items[key] = (now, value)
                self._items.move_to_end(key)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
        return value
