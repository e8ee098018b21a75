"""Requests per calendar per second, shared by every worker.

A moving window (``limits``) keyed by calendar id: in Redis when the workers share one (the
broker's Redis, under the broker namespace), in memory otherwise. When the window is full
the caller waits for a slot up to ``MAX_WAIT`` seconds (Google's per-user quota refills
continuously, so a short wait is usually enough); past that the call raises
``TransientError(retry_after=...)`` and the step runner retries later without holding a
worker thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from connectors.base import TransientError

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import MovingWindowRateLimiter

MAX_WAIT = 1.0  # seconds a call may wait for a slot before giving its thread back


def rate_item(per_second: float) -> RateLimitItem:
    """``per_second`` as a whole number of requests per whole number of seconds (0.5/s: 1 per 2 s)."""
    from limits import RateLimitItemPerSecond

    if per_second >= 1:
        return RateLimitItemPerSecond(int(per_second))
    return RateLimitItemPerSecond(1, math.ceil(1 / per_second))


class CalendarLimiter:
    def __init__(self, per_second: float, redis_url: str | None = None, namespace: str = "despacho",
                 *, sleep: Callable[[float], None] = time.sleep, max_wait: float = MAX_WAIT) -> None:
        from limits.storage import MemoryStorage, RedisStorage, Storage
        from limits.strategies import MovingWindowRateLimiter

        storage: Storage = (RedisStorage(redis_url, key_prefix=f"{namespace}:calendar-rate")
                            if redis_url else MemoryStorage())
        self._limiter: MovingWindowRateLimiter = MovingWindowRateLimiter(storage)
        self._item = rate_item(per_second)
        self._sleep, self._max_wait = sleep, max_wait

    def acquire(self, calendar_id: str) -> None:
        """Take a slot for one request to ``calendar_id``, waiting briefly; else ``TransientError``."""
        waited = 0.0
        while not self._limiter.hit(self._item, calendar_id):
            reset = self._limiter.get_window_stats(self._item, calendar_id).reset_time
            pause = max(0.01, reset - time.time())
            if waited + pause > self._max_wait:
                raise TransientError(f"calendar '{calendar_id}': despacho's own rate limit "
                                     f"({self._item}) is reached", retry_after=math.ceil(pause))
            self._sleep(pause)
            waited += pause
