"""Reading the event log in keyset pages, oldest first, for ``despacho plan``."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.errors import ValidationFailed
from store.event_pages import events_since
from store.eventlog import event_row, insert_events


def store(engine: sa.Engine, at: datetime, ids: list[str], minutes: list[int]) -> None:
    rows = [event_row(i, "x.y", {"n": i}, occurred_at=at + timedelta(minutes=m), source="api")
            for i, m in zip(ids, minutes, strict=True)]
    with session_scope(engine) as s:
        insert_events(s, rows)


def test_pages_cover_every_event_once_in_time_then_id_order(engine: sa.Engine, at: datetime) -> None:
    # seven events at the same minute: a page boundary falls among equal times
    ids = [f"e{i:02d}" for i in range(12)]
    store(engine, at, ids, [0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 3])
    with session_scope(engine) as s:
        found = [row.id for row in events_since(s, at, page=3)]
    assert found == ids


def test_window_keeps_events_from_since_up_to_until(engine: sa.Engine, at: datetime) -> None:
    store(engine, at, ["old", "first", "mid", "last"], [-1, 0, 5, 10])
    with session_scope(engine) as s:
        assert [r.id for r in events_since(s, at, page=2)] == ["first", "mid", "last"]
        assert [r.id for r in events_since(s, at, until=at + timedelta(minutes=10))] == ["first", "mid"]


def test_rows_come_back_detached_with_aware_times(engine: sa.Engine, at: datetime) -> None:
    store(engine, at, ["a"], [0])
    with session_scope(engine) as s:
        (row,) = events_since(s, at)
        assert row not in s and row.occurred_at == at and row.payload == {"n": "a"}


def test_naive_since_and_empty_pages_are_refused(engine: sa.Engine, at: datetime) -> None:
    with session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            list(events_since(s, at.replace(tzinfo=None)))
        with pytest.raises(ValidationFailed):
            list(events_since(s, at, page=0))
