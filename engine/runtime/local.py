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

Embedded (``EmbeddedSteps``), the broker is an in-memory queue of this very
process, so a due batch stays here even when every thread is busy: it waits
in this process's queue instead of the broker's, without a message to encode
and a consumer to poll. And the relay claims the due steps it plans, in the
transaction that plans them (``take_claimed``): they are written ``running``
under a lease held from that moment, and the thread that takes them runs them
without a claim of its own. The relay plans only as far ahead as the threads
can follow (``room``: up to ``BACKLOG_PER_THREAD`` claimed steps per thread
wait here), so the leases held while steps wait stay few; the rest of the
events wait in the event log until the threads catch up and wake the relay.
If the process dies, its claimed steps come back with their leases (at the
next start, ``Reaper.recover``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from engine.runtime.claims import Claim
from engine.runtime.leases import Leases
from engine.runtime.outbox import MAX_BATCH, Sender, batch_size

log = structlog.get_logger("despacho.local")

BACKLOG_PER_THREAD = 4 * MAX_BATCH  # claimed steps waiting for a thread, embedded


@dataclass(frozen=True)
class _Batch:
    step_ids: list[str]
    claims: list[Claim] | None = None  # claimed already (by the embedded relay): run as they are
    has_slot: bool = True  # its slot was taken when it was handed over; else its thread waits for one


_STOP = _Batch([])  # tells a thread to end (a batch is never empty)


class LocalSteps:
    def __init__(self, run_steps: Callable[[list[str]], object], threads: int) -> None:
        self.run_steps = run_steps
        self.threads = threads
        self._slots = threading.Semaphore(threads)
        self._lock = threading.Lock()
        self._broker_waiting = 0  # broker messages waiting for a slot
        self._accepting = False
        self._batches: queue.SimpleQueue[_Batch] = queue.SimpleQueue()
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
        self._batches.put(_Batch(step_ids))
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
        while (batch := self._batches.get()) is not _STOP:
            if not batch.has_slot:
                self._slots.acquire()
            try:
                self._run(batch)
            except Exception:  # the rows stay queued or leased: the reaper brings them back
                log.exception("local_steps_failed", steps=len(batch.step_ids))
            finally:
                self._slots.release()

    def _run(self, batch: _Batch) -> None:
        self.run_steps(batch.step_ids)


class EmbeddedSteps(LocalSteps):
    """The embedded default's threads: every due batch stays here, and the relay hands its claims over."""

    def __init__(self, run_steps: Callable[[list[str]], object], run_claims: Callable[[list[Claim]], object],
                 threads: int, leases: Leases, relay_wakeup: threading.Event) -> None:
        super().__init__(run_steps, threads)
        self.run_claims = run_claims
        self.leases = leases
        self.relay_wakeup = relay_wakeup  # set when the claimed backlog falls to half
        self.max_backlog = threads * BACKLOG_PER_THREAD
        self._backlog = 0  # claimed steps handed over and not yet started

    @property
    def lease(self) -> timedelta:
        return self.leases.lease

    def offer(self, step_ids: list[str]) -> bool:
        """Take any batch: one that finds no thread free waits here for one (the broker would too)."""
        with self._lock:
            if not self._accepting:
                return False
        self._batches.put(_Batch(step_ids, has_slot=False))
        return True

    def room(self) -> int:
        """How many more steps the relay may claim for these threads now; 0 until half the backlog
        has gone (passes of a few events cost more per event)."""
        with self._lock:
            room = self.max_backlog - self._backlog
        return room if room >= self.max_backlog // 2 else 0

    def take_claimed(self, claims: list[Claim]) -> None:
        """Steps the relay claimed for these threads, committed ``running``: their leases are held
        (renewed by the heartbeat) from now on, while they wait and while they run."""
        for claim in claims:
            self.leases.hold(claim.step.id, claim.step.attempts)
        with self._lock:
            self._backlog += len(claims)
        size = batch_size(len(claims))  # spread over the threads as the outbox spreads messages
        for start in range(0, len(claims), size):
            part = claims[start:start + size]
            self._batches.put(_Batch([claim.step.id for claim in part], part, has_slot=False))

    def _run(self, batch: _Batch) -> None:
        if batch.claims is None:
            self.run_steps(batch.step_ids)
            return
        with self._lock:
            before = self._backlog
            self._backlog -= len(batch.claims)
            woken = self._backlog <= self.max_backlog // 2 < before
        if woken:
            self.relay_wakeup.set()
        self.run_claims(batch.claims)


class LocalFirst:
    """A ``Sender``: due batches to this process's free threads, the rest (and delayed ones) to the broker."""

    def __init__(self, local: LocalSteps, broker: Sender) -> None:
        self.local = local
        self.broker = broker

    def __call__(self, step_ids: list[str], delay_ms: int, urgent: bool = False) -> None:
        if delay_ms or not self.local.offer(step_ids):
            self.broker(step_ids, delay_ms, urgent=urgent)
