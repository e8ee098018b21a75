"""Helpers of the backup tests: writers that keep inserting events, counting rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from store.db import make_engine, session_scope
from store.eventlog import record_event


def count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def events_flowing(url: str, *, batch: int = 5) -> Iterator[list[int]]:
    """A thread committing ``batch`` events per transaction until the block ends; yields [written]."""
    written = [0]
    stop = threading.Event()
    engine = make_engine(url)

    def write() -> None:
        while not stop.is_set():
            with session_scope(engine) as session:
                for _ in range(batch):
                    record_event(session, "ops.tick", {"n": written[0]}, occurred_at=datetime.now(UTC))
            written[0] += batch

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        while written[0] < 50:  # the writer is really writing before the backup starts
            stop.wait(0.01)
        yield written
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()


def events_of(url: str, event_type: str) -> list[dict[str, object]]:
    from sqlmodel import Session, select

    from store.models import Event

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return [dict(e.payload) for e in session.exec(select(Event).where(Event.type == event_type))]
    finally:
        engine.dispose()
