"""Group commit for step outcomes: each worker thread waits for its own record, threads share commits.

A worker records a step's outcome before it makes its next call (a finished
effect is never held unrecorded behind unfinished ones). When several threads
finish at once, one of them (the leader) commits everything waiting in one
go while the others wait; under load a commit carries several outcomes, alone
it carries one. When the leader is done it hands the turn to the oldest
outcome that arrived meanwhile. If a shared record fails, each outcome is
recorded alone, so one step's failure never fails another's record.

Each waiter sleeps on its own lock and is woken once (finished, or made the
leader): a shared condition woke every waiter at every commit, which cost
more than the commits under load.
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


@dataclass
class _Pending:
    claim: Any
    outcome: Any
    status: str | None = None
    error: Exception | None = None
    finished: bool = False
    # released once to wake its thread (finished, or made the leader); a bare lock is much
    # cheaper to wake on than an Event
    wake: threading.Lock = field(default_factory=_held_lock)

    def finish(self, status: str | None = None, error: Exception | None = None) -> None:
        self.status, self.error, self.finished = status, error, True
        self.wake.release()

    def result(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.status is not None
        return self.status


class Recorder:
    def __init__(self, record_group: RecordGroup) -> None:
        self.record_group = record_group
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._leading = False

    def record(self, claim: Any, outcome: Any) -> str:
        """Record one outcome; returns once it is committed (or raises why it could not be)."""
        item = _Pending(claim, outcome)
        with self._lock:
            self._pending.append(item)
            follower, self._leading = self._leading, True
        if follower:
            item.wake.acquire()  # finished by the leader, or made the leader
            if item.finished:
                return item.result()
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._commit(batch)
        finally:
            for waiting in batch:  # a BaseException (interpreter exit) must not leave waiters asleep
                if not waiting.finished:
                    waiting.finish(error=RuntimeError("the record was interrupted"))
            self._pass_the_turn()
        return item.result()

    def _pass_the_turn(self) -> None:
        with self._lock:
            if self._pending:
                self._pending[0].wake.release()  # not finished: it leads the next commit
            else:
                self._leading = False

    def _commit(self, batch: list[_Pending]) -> None:
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
