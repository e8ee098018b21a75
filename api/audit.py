"""The request audit trail: one row per request, buffered and written in batches.

A commit per request would cost more than the request itself (see the
benchmarks in DESIGN.md), so rows collect in memory and are written with one
``executemany`` after each commit of the event intake (``api.intake``), and by a
background task every ``AUDIT_FLUSH_SECONDS`` for what other requests left. A crash can
lose the last interval's rows; critical actions do not go through here, they
are written in their own transaction (``store.audit.record_action``).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa

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
        # written: the event intake's write-behind and the timer may be writing rows taken a moment ago.
        self._flushing = threading.Lock()

    def add(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with self._lock:
                self._rows.append(row)

    def flush(self) -> int:
        """Write what is pending; on failure keep it for the next flush (bounded)."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            with self.write_turn, session_scope(self.engine) as session:
                return insert_entries(session, rows)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("request audit rows not written (%d kept for retry): %s",
                        len(rows), exc.__class__.__name__)
            with self._lock:
                self._rows = rows + self._rows
                overflow = len(self._rows) - MAX_PENDING
                if overflow > 0:
                    del self._rows[:overflow]
                    self.metrics.audit_dropped.inc(overflow)
            return 0
