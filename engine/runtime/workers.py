"""Dramatiq worker threads consuming the step queue: in-process (embedded), or fed by Redis or RabbitMQ."""

from __future__ import annotations

import dramatiq


class Workers:
    def __init__(self, broker: dramatiq.Broker, threads: int) -> None:
        self.broker = broker
        # worker_timeout caps how long an idle Redis consumer sleeps between polls (it backs off up to
        # it): at 100 ms a step waited for that sleep at p99 under a steady 200 events/s; 20 ms costs
        # at most 50 small polls a second per queue when idle.
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=20)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout_s: float) -> None:
        """In-flight steps get ``timeout_s`` to finish; anything left is taken back from the database."""
        self.worker.stop(timeout=int(timeout_s * 1000))
        self.broker.close()
