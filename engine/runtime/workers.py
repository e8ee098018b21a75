"""Dramatiq worker threads consuming the step queue: in-process (embedded) or Redis-fed (production)."""

from __future__ import annotations

import dramatiq


class Workers:
    def __init__(self, broker: dramatiq.Broker, threads: int) -> None:
        self.broker = broker
        # A short worker_timeout keeps the first message after an idle spell from waiting a second.
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout_s: float) -> None:
        """In-flight steps get ``timeout_s`` to finish; anything left is taken back from the database."""
        self.worker.stop(timeout=int(timeout_s * 1000))
        self.broker.close()
