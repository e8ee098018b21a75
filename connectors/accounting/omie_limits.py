"""Omie's rate limits, enforced before a call leaves, across every worker that shares Redis.

Omie counts per IP address (960 calls a minute), per IP + app key + method (240 a minute) and
refuses a fifth simultaneous call to one method (4 at once). A refusal costs more than waiting:
repeated refusals get the app key blocked ("API bloqueada por consumo indevido") for minutes.
So every call first takes a slot here:

- the per-minute budgets are ``limits`` moving windows (Redis storage when ``redis_url`` is set,
  so all workers draw from one budget; memory in the embedded mode);
- the concurrency slot is a counting semaphore: a Redis sorted set of holders scored by the
  moment their lease ends, trimmed before each acquire, so a worker that dies holding a slot
  loses it when its lease runs out (the request timeout plus a margin) instead of for ever.

When a budget is spent the caller waits up to ``max_wait`` seconds, then gets a
``TransientError`` carrying ``retry_after``: the step goes back to the runner's retry queue instead
of holding a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from errors import TransientError

POLL = 0.02  # seconds between two attempts to take a slot while waiting
LEASE_MARGIN = 5.0  # seconds a slot outlives the request timeout before another worker may take it

# KEYS[1] holders; ARGV: limit, lease seconds, token. Redis's clock, so workers' clocks may differ.
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return -1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.ceil((tonumber(first[2]) - t) * 1000)
"""


class Semaphore(Protocol):
    def try_acquire(self, name: str, token: str) -> float | None:
        """``None`` when the slot is taken, else seconds until the oldest lease ends."""
        ...

    def release(self, name: str, token: str) -> None: ...


@dataclass
class RedisSemaphore:
    client: Any  # redis.Redis
    prefix: str
    limit: int
    lease: float

    def __post_init__(self) -> None:
        self._script = self.client.register_script(_ACQUIRE)

    def try_acquire(self, name: str, token: str) -> float | None:
        key = f"{self.prefix}:sem:{name}"
        waited_ms = int(self._script(keys=[key], args=[self.limit, self.lease, token]))
        return None if waited_ms < 0 else waited_ms / 1000

    def release(self, name: str, token: str) -> None:
        self.client.zrem(f"{self.prefix}:sem:{name}", token)


@dataclass
class MemorySemaphore:
    """The same leases inside one process (the embedded mode has a single process)."""

    limit: int
    lease: float

    def __post_init__(self) -> None:
        self._holders: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, name: str, token: str) -> float | None:
        now = time.monotonic()
        with self._lock:
            holders = {t: end for t, end in self._holders.get(name, {}).items() if end > now}
            self._holders[name] = holders
            if len(holders) < self.limit:
                holders[token] = now + self.lease
                return None
            return min(holders.values()) - now

    def release(self, name: str, token: str) -> None:
        with self._lock:
            self._holders.get(name, {}).pop(token, None)


class OmieLimiter:
    """Takes a slot of every Omie budget before a call; ``slot(method)`` is the only entry."""

    def __init__(self, *, redis_url: str | None, app_key: str, per_minute: int, per_method_minute: int,
                 concurrent: int, lease: float, max_wait: float = 2.0, prefix: str = "despacho:omie",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from limits import RateLimitItemPerMinute
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        # the app key names the account in Redis keys without writing the key itself there
        account = hashlib.sha256(app_key.encode()).hexdigest()[:12]
        self._account = account
        self._prefix = f"{prefix}:{account}"
        options: dict[str, Any] = {"key_prefix": f"{prefix}:rate"}
        if redis_url:
            options.update(wrap_exceptions=True)
        self._window = MovingWindowRateLimiter(storage_from_string(redis_url or "memory://", **options))
        self._per_ip = RateLimitItemPerMinute(per_minute)
        self._per_method = RateLimitItemPerMinute(per_method_minute)
        self._semaphore: Semaphore
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
            self._semaphore = RedisSemaphore(client, self._prefix, concurrent, lease)
        else:
            self._semaphore = MemorySemaphore(concurrent, lease)
        self.max_wait = max_wait
        self._sleep = sleep

    @contextmanager
    def slot(self, method: str) -> Iterator[None]:
        """Hold one of the method's concurrent slots and one call of each per-minute budget."""
        deadline = time.monotonic() + self.max_wait
        token = uuid.uuid4().hex
        self._acquire(method, token, deadline)
        try:
            self._spend(method, deadline)
            yield
        finally:
            self._semaphore.release(method, token)

    def _acquire(self, method: str, token: str, deadline: float) -> None:
        while True:
            wait = self._storage_call(lambda: self._semaphore.try_acquire(method, token))
            if wait is None:
                return
            # holders usually finish long before their lease ends: suggest a short retry
            self._wait_or_give_up(deadline, min(wait, 1.0), f"{method}: every simultaneous slot is taken")

    def _spend(self, method: str, deadline: float) -> None:
        # the IP budget is shared by every app key behind this address; the method's is the account's
        budgets = ((self._per_ip, ("ip",), "calls per minute from this address"),
                   (self._per_method, (self._account, method), f"{method} calls per minute"))
        for item, identifiers, what in budgets:
            while not self._storage_call(lambda: self._window.hit(item, *identifiers)):  # noqa: B023
                stats = self._storage_call(lambda: self._window.get_window_stats(item, *identifiers))  # noqa: B023
                self._wait_or_give_up(deadline, max(stats.reset_time - time.time(), POLL),
                                      f"Omie's budget of {item.amount} {what} is spent")

    def _wait_or_give_up(self, deadline: float, wait: float, reason: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransientError(f"{reason}; retry in {max(wait, POLL):.1f} s", retry_after=max(wait, POLL))
        self._sleep(min(POLL, left))

    @staticmethod
    def _storage_call(call: Callable[[], Any]) -> Any:
        """Redis down is a transient failure of the call, never a call made without a limit."""
        from limits.errors import StorageError
        from redis import RedisError

        try:
            return call()
        except (StorageError, RedisError) as exc:
            raise TransientError(f"the Omie rate-limit store (Redis) is unavailable: {exc}",
                                 retry_after=5) from exc
