"""Fixed-window counters in the cache, shared by the pages' rate limits.

Each key has its own limit; a hit is allowed only when every key is below its
limit, and then counts once against each. If the cache is unreachable the
caller's request fails loudly rather than being let through unlimited (the
cache is Redis in production, a file cache otherwise).
"""

from __future__ import annotations

from django.core.cache import cache


def rate_limit_hit(keys: dict[str, int], *, window: int) -> bool:
    """Count one hit against every key; False (and nothing counted) if any limit is reached."""
    counts = cache.get_many(list(keys))
    if any(counts.get(key, 0) >= limit for key, limit in keys.items()):
        return False
    for key in keys:
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
    return True
