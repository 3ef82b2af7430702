"""Features written as GeoJSON, kept per process for every backend's reader (dropped when their layer is written).

At most :data:`CACHE_BYTES` per worker; when full, the oldest go first. Keyed on (registry, layer, personal
fields in or not): a cached Feature is never stale, because every request checks the layer's stamp through its
reader (:meth:`~.base.Reader.unchanged`) before it takes a Feature from here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

# Per worker. The city's 140,000 hazard points are about 110 MB of Features: with room for all of
# them a bbox page is served from here; the earlier cap of 50,000 Features, emptied when full,
# kept a random-bbox load missing about 30 Features a page (620 against 830+ pages/s).
CACHE_BYTES = 128 * 1024 * 1024
EVICT_TO = 0.9  # when full, drop the oldest down to this share, not one by one
_cache: dict[tuple, list] = {}  # (registry, layer, personal) -> [stamp, OrderedDict{fid: Feature}, bytes]
_cache_bytes = 0
_lock = threading.Lock()  # gthread workers serve several requests at once


def entry(key: tuple, stamp: tuple, unchanged: Callable[[str, tuple, tuple], bool]) -> list:
    """The cache entry of (registry, layer, personal) valid at ``stamp``; ``unchanged(layer, old, new)`` tells
    whether the layer changed between two stamps (the reader's own :meth:`~.base.Reader.unchanged`)."""
    global _cache_bytes
    with _lock:
        found = _cache.get(key)
        if found is not None and found[0] != stamp:
            if unchanged(key[1], found[0], stamp):
                found[0] = stamp
            else:
                _cache_bytes -= found[2]
                found = None
        if found is None:
            found = _cache[key] = [stamp, OrderedDict(), 0]
        return found


def keep(entry: list, fetched: dict[int, bytes]) -> None:
    global _cache_bytes
    with _lock:
        if not any(v is entry for v in _cache.values()):
            return  # the layer changed meanwhile: this entry is no longer the cache's
        added = sum(len(t) for f, t in fetched.items() if f not in entry[1])
        entry[1].update(fetched)
        entry[2] += added
        _cache_bytes += added
        if _cache_bytes > CACHE_BYTES:
            while _cache_bytes > CACHE_BYTES * EVICT_TO:
                biggest = max(_cache.values(), key=lambda e: e[2])
                if not biggest[1]:
                    break
                _, text = biggest[1].popitem(last=False)
                biggest[2] -= len(text)
                _cache_bytes -= len(text)


def clear_cache() -> None:
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def cache_usage() -> tuple[int, int]:
    """(Features, bytes) in this worker's Feature cache."""
    with _lock:
        return sum(len(e[1]) for e in _cache.values()), _cache_bytes
