"""Which daemon fires the schedules: a Redis lock with a lease, renewed while alive.

Leadership only decides who tries; the unique claim per (trigger, fire time)
in the event log is what makes a brief double leader harmless. A leader
believes itself only until the lease it last confirmed would run out (timed
from before it asked Redis), so a paused process or one cut off from Redis
stops firing by itself, before another daemon can take the lock.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import redis
import structlog

log = structlog.get_logger("despacho.leader")

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class AlwaysLeader:
    """The embedded daemon is alone: it always leads."""

    def is_leader(self) -> bool:
        return True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class RedisLeader:
    """Holds ``key`` for ``lease_ms`` at a time and renews it every third of the lease."""

    def __init__(self, client: redis.Redis, key: str = "despacho:scheduler:leader",
                 lease_ms: int = 10_000) -> None:
        self.client = client
        self.key = key
        self.lease_ms = lease_ms
        # who holds the lock, readable by the console's Status page: host:pid:random
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self._leading = False
        self._valid_until = 0.0  # on our clock: when the lease we last confirmed runs out
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def is_leader(self) -> bool:
        return self._leading and time.monotonic() < self._valid_until

    def tick(self) -> bool:
        """Take the lock if free, renew it if ours; returns whether we lead now."""
        with self._tick_lock:  # the renew thread and a caller must not overwrite each other's answer
            asked_at = time.monotonic()  # Redis counts the lease from later than this: we expire first
            held = False
            if self._leading:
                held = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.lease_ms))
                if not held:
                    log.warning("lost_leadership", key=self.key)
            if not held:
                held = bool(self.client.set(self.key, self.token, nx=True, px=self.lease_ms))
                if held:
                    log.info("became_leader", key=self.key)
            self._leading = held
            self._valid_until = asked_at + self.lease_ms / 1000 if held else 0.0
            return held

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="despacho-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except redis.RedisError as exc:
                event = "lost_leadership" if self._leading else "leader_redis_error"
                self._leading = False
                log.warning(event, key=self.key, error=str(exc))
            self._stop.wait(self.lease_ms / 3000)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self._leading:
            try:
                self.client.eval(_RELEASE, 1, self.key, self.token)
            except redis.RedisError as exc:  # the lease lapses by itself
                log.warning("leader_release_failed", error=str(exc))
            self._leading = False
