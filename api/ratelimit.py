"""Rate limits per client, per IP, and for ``/v1/token``, counted with ``limits``.

Most budgets count every request (``hit``); the budget of failed token
requests per (client id, IP) is judged first and counted only on failure
(``peek`` then ``count``), so a correct secret is never what spends it.

The counters live in Redis in production, so every API process draws from the
same budget, and in memory in the embedded mode. Windows are fixed (one
increment per request). When the counter store fails the request goes
through and the failure is logged: the limiter protects capacity, it is not
an authorisation check.

A hit is the fixed-window strategy of ``limits`` spelled out over its
storage: one increment and one expiry read (two Redis round trips), where
``FixedWindowRateLimiter.hit`` followed by ``get_window_stats`` made three and
built the key three times. In memory the windows are a dictionary here
(``MemoryWindows``): ``limits``' memory storage takes a lock and starts a
clean-up task on every increment, and every request counts twice (IP, client).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from api.errors import RateLimited

log = logging.getLogger("despacho.api")


@dataclass(frozen=True)
class LimitState:
    limit: int
    remaining: int
    reset: int  # seconds until the window resets

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(self.reset)}


def storage_uri(configured: str, coordination: str | None) -> str:
    """``api.rate_limit_storage``, else the coordination Redis (``broker.coordination()``), else memory."""
    uri = configured or coordination or "memory://"
    return uri if uri.startswith("async+") else f"async+{uri}"


class MemoryWindows:
    """Fixed-window counters in this process, for ``memory://``: the part of ``limits``' memory
    storage a fixed window uses (a count per key, from its first increment until it expires)."""

    PRUNE_AT = 10_000  # keys; past this, expired windows are dropped (and the mark doubles if few were)

    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # key -> [count, expires at]
        self._prune_at = self.PRUNE_AT

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        window = self._windows.get(key)
        if window is None or window[1] <= now:
            if len(self._windows) >= self._prune_at:
                self._prune(now)
            window = self._windows[key] = [0, now + expiry]
        window[0] += amount
        return int(window[0])

    async def get(self, key: str) -> int:
        window = self._windows.get(key)
        return int(window[0]) if window is not None and window[1] > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        return window[1] if window is not None else time.time()

    async def reset(self) -> int:
        count = len(self._windows)
        self._windows.clear()
        return count

    def _prune(self, now: float) -> None:
        self._windows = {key: window for key, window in self._windows.items() if window[1] > now}
        self._prune_at = max(self.PRUNE_AT, 2 * len(self._windows))


class RateLimiter:
    def __init__(self, uri: str, key_prefix: str = "despacho-rl") -> None:
        options: dict[str, str | bool] = {"key_prefix": key_prefix}
        if "redis" in uri:
            options.update(implementation="redispy", wrap_exceptions=True)
        self.storage: Storage | MemoryWindows
        if uri.split("://", 1)[0] == "async+memory":
            self.storage = MemoryWindows()
        else:
            self.storage = storage_from_string(uri, **options)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, limit: str, kind: str, key: str) -> LimitState | None:
        """Count one request; raise ``RateLimited`` past the limit. ``None`` if the store failed."""
        item = self._item(limit)
        counter = item.key_for(kind, key)
        try:
            count = await self.storage.incr(counter, item.get_expiry())
            reset_at = await self.storage.get_expiry(counter)
        except StorageError as exc:
            log.warning("rate-limit store unavailable, request let through: %s", exc)
            return None
        return _judge(item, limit, kind, count, reset_at)

    async def peek(self, limit: str, kind: str, key: str) -> None:
        """Raise ``RateLimited`` when the budget is spent, counting nothing (see ``count``).

        For budgets of failures: the request is judged before it runs and counted only if it
        fails. Two requests can pass the peek together; the other limits bound that.
        """
        item = self._item(limit)
        counter = item.key_for(kind, key)
        try:
            count = await self.storage.get(counter)
            reset_at = await self.storage.get_expiry(counter) if count else time.time()
        except StorageError as exc:
            log.warning("rate-limit store unavailable, request let through: %s", exc)
            return
        _judge(item, limit, kind, count + 1, reset_at)

    async def count(self, limit: str, kind: str, key: str) -> None:
        """Count one failure for ``peek``, without refusing the request that failed."""
        item = self._item(limit)
        try:
            await self.storage.incr(item.key_for(kind, key), item.get_expiry())
        except StorageError as exc:
            log.warning("rate-limit store unavailable, failure not counted: %s", exc)

    async def reset(self) -> None:
        await self.storage.reset()


def _judge(item: RateLimitItem, limit: str, kind: str, count: int, reset_at: float) -> LimitState:
    reset = max(0, math.ceil(reset_at - time.time()))
    state = LimitState(item.amount, max(0, item.amount - count), reset)
    if count > item.amount:
        raise RateLimited(f"too many requests ({limit} per {kind}); retry in {max(reset, 1)} s",
                          details={"limit": limit, "scope": kind},
                          headers={**state.headers(), "Retry-After": str(max(reset, 1))})
    return state
