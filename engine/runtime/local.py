"""Local hand-off: steps a worker process queued run on its own free threads, without the broker.

The relay (and a step's record, queuing the next step) sends due steps after
its commit. In a process that runs steps, a batch goes straight to one of its
own threads when one is free: no broker round trip and no consumer poll, which
were most of an idle worker's CPU and of the time from an event to its step.
When every thread is busy the batch goes to the broker as before, where any
worker takes it, so a backlog still spreads over the processes.

Nothing is lost if the process dies: the rows are committed ``queued`` before
the hand-off, a step being run holds its lease, and the reaper sends a step
left queued to the broker after ``execution.queued_timeout``. A batch is only
handed over when a thread is free to start it at once.

Steps from the broker and from here share one set of ``threads`` slots, so a
process never runs more steps at once than ``execution.worker_threads`` says;
while a broker message waits for a slot no batch is handed over locally, so
the broker's messages are not starved.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import structlog

from engine.runtime.outbox import Sender

log = structlog.get_logger("despacho.local")

_STOP: list[str] = []  # tells a thread to end (a batch is never empty)


class LocalSteps:
    def __init__(self, run_steps: Callable[[list[str]], object], threads: int) -> None:
        self.run_steps = run_steps
        self.threads = threads
        self._slots = threading.Semaphore(threads)
        self._lock = threading.Lock()
        self._broker_waiting = 0  # broker messages waiting for a slot
        self._accepting = False
        self._batches: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._pool: list[threading.Thread] = []

    def start(self) -> None:
        self._pool = [threading.Thread(target=self._serve, name=f"despacho-local-{n}", daemon=True)
                      for n in range(self.threads)]
        for thread in self._pool:
            thread.start()
        with self._lock:
            self._accepting = True

    def stop(self, timeout_s: float) -> None:
        """No more hand-offs; batches already handed over are run (``timeout_s`` for all of them)."""
        with self._lock:
            self._accepting = False
        for _ in self._pool:
            self._batches.put(_STOP)
        for thread in self._pool:
            thread.join(timeout=timeout_s / max(1, len(self._pool)))

    def offer(self, step_ids: list[str]) -> bool:
        """Take a batch to run here now; ``False`` when no thread is free (send it to the broker)."""
        with self._lock:
            if not self._accepting or self._broker_waiting:
                return False
            if not self._slots.acquire(blocking=False):
                return False
        self._batches.put(step_ids)
        return True

    def run_from_broker(self, step_ids: list[str]) -> None:
        """The step actor: a broker message's batch, in a slot like the local ones."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self._broker_waiting += 1
            try:
                self._slots.acquire()
            finally:
                with self._lock:
                    self._broker_waiting -= 1
        try:
            self.run_steps(step_ids)
        finally:
            self._slots.release()

    def _serve(self) -> None:
        while (step_ids := self._batches.get()) is not _STOP:
            try:
                self.run_steps(step_ids)
            except Exception:  # the rows stay queued or leased: the reaper brings them back
                log.exception("local_steps_failed", steps=len(step_ids))
            finally:
                self._slots.release()


class LocalFirst:
    """A ``Sender``: due batches to this process's free threads, the rest (and delayed ones) to the broker."""

    def __init__(self, local: LocalSteps, broker: Sender) -> None:
        self.local = local
        self.broker = broker

    def __call__(self, step_ids: list[str], delay_ms: int, urgent: bool = False) -> None:
        if delay_ms or not self.local.offer(step_ids):
            self.broker(step_ids, delay_ms, urgent=urgent)
