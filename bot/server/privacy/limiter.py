"""A small per-address rate limiter for the person's API (in this process's memory).

A fixed number of requests per address in a sliding window. Per process: with several
workers or instances each counts its own requests, so an address gets at most that many
times the limit; it is there to make guessing tokens and hammering deletes pointless, not
to meter anyone. Addresses are forgotten oldest first beyond a bound, so memory stays small.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable, Deque

from bot.server.privacy.settings import (
    RATE_LIMIT_ADDRESSES,
    RATE_LIMIT_REQUESTS,
    RATE_LIMIT_WINDOW_SECONDS,
)


class RateLimiter:
    def __init__(
        self,
        limit: int = RATE_LIMIT_REQUESTS,
        window: float = RATE_LIMIT_WINDOW_SECONDS,
        max_addresses: int = RATE_LIMIT_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._seen: OrderedDict[str, Deque[float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        """Counts a request from `address`; False when it is over the limit (not counted)."""
        now = self.clock()
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        self._seen[address] = times  # most recently seen last
        while len(self._seen) > self.max_addresses:
            self._seen.popitem(last=False)
        return allowed

    def retry_after(self, address: str) -> int:
        """Whole seconds until `address` may send again (at least 1)."""
        times = self._seen.get(address)
        if not times:
            return 1
        return max(1, int(times[0] + self.window - self.clock() + 0.999))
