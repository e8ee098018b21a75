"""Conta Azul's limits, 600 calls a minute and 10 a second, kept by every worker together.

A moving window in Redis when the runtime has one (workers on several machines share it), else
in this process's memory (the embedded mode: one process). A call waits for a free slot when it
comes within ``max_wait`` seconds; beyond that it fails as transient with the wait as
``retry_after``, so a busy minute turns into later retries rather than 429s from Conta Azul.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from errors import TransientError

_MEMORY: dict[str, Any] = {}
_MEMORY_LOCK = threading.Lock()


def _storage(redis_url: str | None, prefix: str) -> Any:
    from limits.storage import storage_from_string

    if redis_url:
        return storage_from_string(redis_url, key_prefix=prefix)
    with _MEMORY_LOCK:  # one per process, or each adapter would count alone
        if "memory" not in _MEMORY:
            _MEMORY["memory"] = storage_from_string("memory://")
        return _MEMORY["memory"]


class CallLimiter:
    def __init__(self, per_second: int, per_minute: int, redis_url: str | None, key: str,
                 max_wait: float = 5.0, prefix: str = "despacho:conta_azul") -> None:
        from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
        from limits.strategies import MovingWindowRateLimiter

        self.items = [RateLimitItemPerSecond(per_second), RateLimitItemPerMinute(per_minute)]
        self.limiter = MovingWindowRateLimiter(_storage(redis_url, prefix))
        self.key = key
        self.max_wait = max_wait

    def acquire(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while True:
            if all(self.limiter.test(item, "conta_azul", self.key) for item in self.items) and all(
                    self.limiter.hit(item, "conta_azul", self.key) for item in self.items):
                return
            wait = self._wait()
            if time.monotonic() + wait > deadline:
                raise TransientError(f"Conta Azul call limit reached ({self.items[0]}, {self.items[1]})",
                                     retry_after=max(wait, 0.1))
            time.sleep(wait)

    def _wait(self) -> float:
        now = time.time()
        waits = [stats.reset_time - now for item in self.items
                 if (stats := self.limiter.get_window_stats(item, "conta_azul", self.key)).remaining <= 0]
        return min(max(max(waits, default=0.01), 0.01), 60.0)
