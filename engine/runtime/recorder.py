"""Group commit for step outcomes, on a thread of its own.

A worker hands a step's outcome over the moment its call returns and goes on
to its next call; the recorder's thread commits everything that has arrived,
in one go, as soon as its previous commit is done. A finished effect is thus
never held unrecorded behind an unfinished call: it is committed while the
next call runs, not after it. The worker waits for its batch's records before
it answers for the batch and lets the steps' leases go. If a shared record
fails, each outcome is recorded alone, so one step's failure never fails
another's record.

Before, each worker waited for its own record before its next call, and
several workers took turns at leading a commit: the waking and handing over
(several thread switches per step) cost more than the commits themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# [(claim, outcome), ...] -> the new status of each, in order; records all or raises
RecordGroup = Callable[[list[tuple[Any, Any]]], list[str]]


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


class RecordInterrupted(RuntimeError):
    """The recorder's thread ended (interpreter exit) before this outcome was committed."""


@dataclass
class Pending:
    """An outcome handed to the recorder; ``wait`` returns its new status once it is committed."""

    claim: Any
    outcome: Any
    status: str | None = None
    error: Exception | None = None
    finished: bool = False
    # released once, when finished: a bare lock is much cheaper to wake on than an Event
    _done: threading.Lock = field(default_factory=_held_lock)

    def finish(self, status: str | None = None, error: Exception | None = None) -> None:
        self.status, self.error, self.finished = status, error, True
        self._done.release()

    def wait(self) -> str:
        """The new status once committed; raises why the record failed."""
        with self._done:
            pass
        if self.error is not None:
            raise self.error
        assert self.status is not None
        return self.status


class Recorder:
    def __init__(self, record_group: RecordGroup) -> None:
        self.record_group = record_group
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._pending: list[Pending] = []
        self._thread: threading.Thread | None = None  # started at the first outcome
        self._closed = False

    def submit(self, claim: Any, outcome: Any) -> Pending:
        """Hand an outcome over to be committed as soon as possible; does not wait for it."""
        item = Pending(claim, outcome)
        with self._lock:
            if not self._closed:
                self._pending.append(item)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._serve, name="despacho-recorder", daemon=True)
                    self._thread.start()
                self._arrived.notify()
                return item
        self._commit([item])  # closed: recorded here, in the caller's own thread
        return item

    def record(self, claim: Any, outcome: Any) -> str:
        """Record one outcome; returns once it is committed (or raises why it could not be)."""
        return self.submit(claim, outcome).wait()

    def close(self, timeout_s: float = 10.0) -> None:
        """Commit what has arrived, then stop the thread; later outcomes are recorded by their caller."""
        with self._lock:
            self._closed = True
            self._arrived.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _serve(self) -> None:
        try:
            while batch := self._next_batch():
                try:
                    self._commit(batch)
                finally:
                    for item in batch:  # a BaseException must not leave a worker waiting for ever
                        if not item.finished:
                            item.finish(error=RecordInterrupted("the record was interrupted"))
        except BaseException:
            with self._lock:
                left, self._pending = self._pending, []
            for item in left:
                item.finish(error=RecordInterrupted("the record was interrupted"))
            raise

    def _next_batch(self) -> list[Pending]:
        """Everything that arrived since the last commit; empty once closed and drained."""
        with self._lock:
            while not self._pending and not self._closed:
                self._arrived.wait()
            batch, self._pending = self._pending, []
        return batch

    def _commit(self, batch: list[Pending]) -> None:
        try:
            statuses = self.record_group([(item.claim, item.outcome) for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(error=exc)
                return
            for item in batch:  # alone, so only the culprit fails
                self._commit([item])
            return
        for item, status in zip(batch, statuses, strict=True):
            item.finish(status)
