"""Query vectors, from a small LRU cache of recent queries when they are there.

A portal's queries repeat (the top few make a large share), and embedding is the largest part of
a query's time on CPU (docs/performance.md): with the cache, p50 was 0.44x main's against 0.59x
without it (issue #13). Thread-safe; vectors are read-only, shared by the requests that hit them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class QueryVectors:
    """``vector(query)``: the cached vector, or ``embed([query])[0]`` remembered for next time.

    ``size`` 0 turns the cache off. ``on_embed`` (settable) receives the seconds a miss took
    (the service's /metrics embedding histogram)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int):
        self._embed = embed
        self.size = size
        self.on_embed: Callable[[float], None] | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vector(self, query: str) -> np.ndarray:
        with self._lock:
            vector = self._cache.get(query)
            if vector is not None:
                self._cache.move_to_end(query)
                return vector
        started = time.perf_counter()
        vector = self._embed([query])[0]
        vector.setflags(write=False)
        if self.on_embed is not None:
            self.on_embed(time.perf_counter() - started)
        if self.size:
            with self._lock:
                self._cache[query] = vector
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return vector
