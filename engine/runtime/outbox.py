"""After-commit sends: the database is the outbox, the broker message only a wake-up call.

A ``Transaction`` collects the steps its work queued; once the transaction
commits they are sent (ids only) through the process's ``Sender``. A step
queued but never sent (no broker in this process, a lost message, a broker
restart) stays ``queued`` in the database, where the reaper finds it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
import structlog
from sqlmodel import Session

from store.db import session_scope
from store.types import utcnow

log = structlog.get_logger("despacho.outbox")

class Sender(Protocol):
    def __call__(self, step_ids: list[str], delay_ms: int, urgent: bool = False) -> None:
        """Send one message; ``urgent`` ones (steps taken back from a dead worker) go first."""


# Steps due now travel in small batches: one message and one claim serve several steps, while
# a relay pass is still spread over the worker threads (a pass's steps in about SPREAD parts).
# 16 rather than 8: a claim per 16 steps took about a tenth off a step's CPU in a burst.
MAX_BATCH = 16
SPREAD = 8
_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit = off")


class QueuedStep(Protocol):
    """What sending needs of a queued step: an ORM row, a plain row or a planned one."""

    @property
    def id(self) -> str: ...

    @property
    def next_attempt_at(self) -> datetime | None: ...


@dataclass
class Transaction:
    """One unit of work: its session, and the steps to send once it commits."""

    session: Session
    queued: list[QueuedStep] = field(default_factory=list)
    urgent: list[QueuedStep] = field(default_factory=list)

    def send_after_commit(self, steps: Iterable[QueuedStep], *, urgent: bool = False) -> None:
        (self.urgent if urgent else self.queued).extend(steps)


class Outbox:
    def __init__(self, db: sa.Engine, sender: Sender | None = None, *,
                 bookkeeping_db: sa.Engine | None = None) -> None:
        self.db = db
        self.sender = sender  # None: nothing is sent from this process; the reaper resends
        # PostgreSQL: an autocommit engine whose commits do not wait for the disk (see bookkeeping)
        self.bookkeeping_db = bookkeeping_db
        # SQLite takes one writer at a time and makes the others poll for its lock with sleeps of
        # up to 100 ms; this process's writers queue here instead and start the moment it is free.
        self._writing = threading.RLock() if db.dialect.name == "sqlite" else contextlib.nullcontext()
        # SQLite: the bookkeeping connection is kept between uses (writers take turns anyway): taking
        # one from the pool and giving it back cost a step more than its two statements
        self._kept: sa.Connection | None = None

    @contextmanager
    def bookkeeping(self) -> Iterator[sa.Connection]:
        """A connection for the step runner's one-statement claims and records.

        On PostgreSQL each of those is a single statement, run in autocommit on
        ``bookkeeping_db`` (commits acknowledged before the WAL reaches the disk, as
        ``durable=False`` below): one round trip instead of six. Elsewhere, a transaction.
        """
        if self.bookkeeping_db is not None:
            with self.bookkeeping_db.connect() as conn:
                yield conn
            return
        with self._writing:
            conn, self._kept = self._kept or self.db.connect(), None  # taken: a nested use opens its own
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                conn.close()  # whatever went wrong, the next use starts on a fresh connection
                raise
            self._kept = conn

    def close(self) -> None:
        """Give back the kept bookkeeping connection (before the engine is disposed)."""
        with self._writing:
            conn, self._kept = self._kept, None
        if conn is not None:
            conn.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Transaction]:
        """A transaction that commits on success; the steps it queued are sent after the commit.

        ``durable=False`` (step claims and records) lets PostgreSQL acknowledge the commit before
        its WAL reaches the disk: a database crash may then forget the last moments of step
        bookkeeping, and those steps run again under their idempotency keys, exactly as after a
        worker crash. Accepted events and plans stay durable.
        """
        with self._writing, session_scope(self.db) as session:
            if not durable and self.db.dialect.name == "postgresql":
                session.execute(_ASYNC_COMMIT)
            tx = Transaction(session)
            yield tx
        self.send(tx.urgent, urgent=True)
        self.send(tx.queued)

    def send(self, steps: list[QueuedStep], *, urgent: bool = False) -> None:
        if self.sender is None or not steps:
            return
        for index, (ids, delay) in enumerate(messages(steps, utcnow())):
            try:
                self.sender(ids, delay, urgent=urgent)
            except Exception as exc:  # the broker is away: the rows are committed, the reaper resends
                log.warning("send_failed", unsent_messages=index, error=str(exc))
                return


def batch_size(count: int) -> int:
    """Steps per batch for ``count`` due steps: about SPREAD batches, at most MAX_BATCH steps each."""
    return min(MAX_BATCH, max(1, -(-count // SPREAD)))


def messages(steps: list[Any], now: datetime) -> list[tuple[list[str], int]]:
    """Due steps in batches spread over the workers; each later step alone, with its delay."""
    due_now = [step.id for step in steps if step.next_attempt_at is None or step.next_attempt_at <= now]
    later = [step for step in steps if step.next_attempt_at is not None and step.next_attempt_at > now]
    size = batch_size(len(due_now))
    batches = [(due_now[i:i + size], 0) for i in range(0, len(due_now), size)]
    return batches + [([step.id], int((step.next_attempt_at - now).total_seconds() * 1000))
                      for step in later]
