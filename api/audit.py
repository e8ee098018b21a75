"""The request audit trail: one row per request, buffered and written in batches.

A commit per request would cost more than the request itself (see the
benchmarks in DESIGN.md), so rows collect in memory and are written with one
``executemany`` inside each commit of the event intake (``api.intake``, ``RequestAudit.ride``),
and by a background task every ``AUDIT_FLUSH_SECONDS`` for what other requests left. A crash can
lose the last interval's rows; critical actions do not go through here, they
are written in their own transaction (``store.audit.record_action``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from api.metrics import Metrics
from store.audit import insert_entries
from store.db import session_scope

log = logging.getLogger("despacho.api")
MAX_PENDING = 50_000  # past this (database down for long), the oldest rows are dropped


class RequestAudit:
    def __init__(self, engine: sa.Engine, metrics: Metrics, *, enabled: bool = True,
                 write_turn: AbstractContextManager[Any] | None = None) -> None:
        self.engine, self.metrics, self.enabled = engine, metrics, enabled
        # taken around the write, shared with the event intake (``api.app.write_turn``)
        self.write_turn = write_turn or nullcontext()
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # One flush at a time, so that when ``flush`` returns every row added before the call is
        # written: an event commit (``ride``) or the timer may be writing rows taken a moment ago.
        self._flushing = threading.Lock()
        self._last_ride = float("-inf")  # time.monotonic() of the last event commit rows rode in

    def add(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with self._lock:
                self._rows.append(row)

    def flush(self) -> int:
        """Write what is pending; on failure keep it for the next flush (bounded)."""
        with self._flushing:
            rows = self._take()
            if not rows:
                return 0
            try:
                with self.write_turn, session_scope(self.engine) as session:
                    return self._write(session, rows)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("request audit rows not written (%d kept for retry): %s",
                            len(rows), exc.__class__.__name__)
                self._keep(rows)
                return 0

    def flush_unless_riding(self, seconds: float) -> int:
        """``flush``, unless rows rode an event commit in the last ``seconds``: the next one takes
        them. Under load the timer's flush took the write turn from the event intake, and the
        batch it delayed was the API's slowest."""
        if time.monotonic() - self._last_ride < seconds:
            return 0
        return self.flush()

    @contextmanager
    def ride(self) -> Iterator[Callable[[Session], None]]:
        """The pending rows, for the caller to write in its own transaction (the event intake's:
        one commit per batch instead of two), with the function it yields.

        They are kept for a later write unless that transaction commits. A flush under way is
        not waited for (the caller holds the write turn the flush needs next): nothing rides then.
        """
        taken = self._flushing.acquire(blocking=False)
        try:
            if taken:
                self._last_ride = time.monotonic()
            rows = self._take() if taken else []
            written = False

            def write(session: Session) -> None:
                nonlocal written
                if not rows:
                    return
                try:  # ``_write``'s savepoints roll back whatever fails: the caller's rows stay
                    self._write(session, rows)
                except sa.exc.SQLAlchemyError as exc:  # not swallowed: the rows wait for the next write
                    log.warning("request audit rows not written with the events (%d kept for retry): %s",
                                len(rows), exc.__class__.__name__)
                    return
                written = True

            try:
                yield write
            except BaseException:
                self._keep(rows)
                raise
            if not written:
                self._keep(rows)
        finally:
            if taken:
                self._flushing.release()

    def _write(self, session: Session, rows: list[dict[str, Any]]) -> int:
        """Insert ``rows``; when the database refuses the data of some, the others one by one, and
        the refused are dropped and counted: they would be refused again at every later write."""
        try:
            with session.begin_nested():
                return insert_entries(session, rows)
        except (sa.exc.IntegrityError, sa.exc.DataError):
            pass
        written = 0
        for row in rows:
            try:
                with session.begin_nested():
                    written += insert_entries(session, [row])
            except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
                log.warning("a request audit row was refused by the database and dropped (%s %s): %s",
                            row.get("actor"), row.get("entity_id"), exc.__class__.__name__)
                self.metrics.audit_dropped.inc()
        return written

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with self._lock:
            self._rows = rows + self._rows
            overflow = len(self._rows) - MAX_PENDING
            if overflow > 0:
                del self._rows[:overflow]
                self.metrics.audit_dropped.inc(overflow)
