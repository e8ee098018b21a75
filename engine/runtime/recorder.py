"""Group commit for step outcomes: each worker thread waits for its own record, threads share commits.

A worker records a step's outcome before it makes its next call (a finished
effect is never held unrecorded behind unfinished ones). When several threads
finish at once, the first one to arrive commits everything waiting in one
go while the others wait; under load a commit carries several
outcomes, alone it carries one. If a shared transaction fails, each outcome is
recorded alone, so one step's failure never fails another's record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# [(claim, outcome), ...] -> the new status of each, in order; records all or raises
RecordGroup = Callable[[list[tuple[Any, Any]]], list[str]]


@dataclass
class _Pending:
    claim: Any
    outcome: Any
    status: str | None = None
    error: Exception | None = None
    finished: bool = field(default=False)

    def result(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.status is not None
        return self.status


class Recorder:
    def __init__(self, record_group: RecordGroup) -> None:
        self.record_group = record_group
        self._turn = threading.Condition()
        self._pending: list[_Pending] = []
        self._committing = False

    def record(self, claim: Any, outcome: Any) -> str:
        """Record one outcome; returns once it is committed (or raises why it could not be)."""
        item = _Pending(claim, outcome)
        with self._turn:
            self._pending.append(item)
            while self._committing and not item.finished:
                self._turn.wait()
            if item.finished:
                return item.result()
            self._committing = True
            batch, self._pending = self._pending, []
        try:
            self._commit(batch)
        finally:
            with self._turn:
                self._committing = False
                self._turn.notify_all()
        return item.result()

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            statuses = self.record_group([(item.claim, item.outcome) for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].finished = exc, True
                return
            for item in batch:  # alone, so only the culprit fails
                self._commit([item])
            return
        for item, status in zip(batch, statuses, strict=True):
            item.status, item.finished = status, True
