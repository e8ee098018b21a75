"""Dramatiq worker threads consuming the step queue: in-process (embedded), or fed by Redis or RabbitMQ."""

from __future__ import annotations

import dramatiq


class Workers:
    def __init__(self, broker: dramatiq.Broker, threads: int) -> None:
        self.broker = broker
        # worker_timeout caps how long an idle Redis consumer sleeps between polls (it backs off up to
        # it). Steps this process queued skip the broker when a thread is free (engine.runtime.local),
        # so the broker carries the overflow, where a poll's wait matters little; at 20 ms the idle
        # polls of the four queues (steps, resumed, and their delay queues) were a fifth of a core.
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout_s: float) -> None:
        """In-flight steps get ``timeout_s`` to finish; anything left is taken back from the database."""
        self.worker.stop(timeout=int(timeout_s * 1000))
        self.broker.close()
