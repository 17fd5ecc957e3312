"""Rate limits on what buyers send: one token bucket per key, kept in this process.

Each key (a buyer id, an API key's shop...) has a bucket of `burst` tokens that refills at
`rate` tokens a second; a message takes one token and is refused when none is left. A buyer
typing quickly gets through a burst, a script flooding the desk is held to the sustained
rate.

Memory stays bounded: a bucket that has been idle long enough to refill completely is the
same as a new one, so it is forgotten; buckets are kept in the order they were last used, so
forgetting looks only at the oldest ones. Above `max_keys` the oldest are dropped even if not
yet full, which at worst lets a long-idle key start again with a full burst.

The limit is per process: with several workers a buyer gets the rate once per worker that
holds one of their sockets, which is fine for the purpose (keeping one buyer from flooding).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_RATE = 5.0  # messages a second, sustained
DEFAULT_BURST = 20  # messages at once after a pause
DEFAULT_MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `allow(key)` takes a token if one is left."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError(
                f"RateLimiter needs rate > 0, burst >= 1, max_keys >= 1; got {rate}, {burst}, {max_keys}"
            )
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        # Least recently used first, so the idle ones are found at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        # After this long without use a bucket is full again and need not be kept.
        self._refill_seconds = burst / rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
        else:
            # max(): a clock that steps back (tests, a bad injected clock) never removes tokens.
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Take `cost` tokens from `key`'s bucket; False (and nothing taken) when too few are left."""
        now = self._clock()
        self._forget_idle(now, room_for=key)
        bucket = self._refilled(key, now)
        if bucket.tokens < cost:
            return False
        bucket.tokens -= cost
        return True

    def retry_after(self, key: str, cost: float = 1.0) -> float:
        """Seconds until `key` may send `cost` again (0 when it may now); takes nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        now = self._clock()
        tokens = min(float(self.burst), bucket.tokens + max(0.0, now - bucket.updated) * self.rate)
        return max(0.0, (cost - tokens) / self.rate)

    def _forget_idle(self, now: float, room_for: str) -> None:
        buckets = self._buckets
        limit = self.max_keys if room_for in buckets else self.max_keys - 1
        while buckets:
            key, bucket = next(iter(buckets.items()))
            full = now - bucket.updated >= self._refill_seconds
            if not full and len(buckets) <= limit:
                break
            del buckets[key]
