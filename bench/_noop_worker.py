"""Raw Dramatiq baseline: a no-op actor that only notes which message ran and when (one Redis call)."""

from __future__ import annotations

import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker


def declare(url: str, namespace: str) -> tuple[dramatiq.Broker, dramatiq.Actor]:
    broker = RedisBroker(url=url, namespace=namespace)
    client = redis.Redis.from_url(url)

    def noop(index: int) -> None:
        client.rpush(f"{namespace}:done", f"{index}:{time.time()}")

    return broker, dramatiq.Actor(noop, broker=broker, actor_name="noop", queue_name="bench",
                                  priority=0, options={"max_retries": 0})


def serve(url: str, namespace: str, threads: int, stop) -> None:
    broker, _ = declare(url, namespace)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    stop.wait()
    worker.stop()
