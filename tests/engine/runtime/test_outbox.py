"""The outbox's SQLite bookkeeping connection: kept between uses, never reused after a failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.runtime.outbox import Outbox
from store.db import make_engine


@pytest.fixture
def outbox(migrated_template: Path, tmp_path: Path) -> Outbox:
    shutil.copy(migrated_template, tmp_path / "o.db")
    return Outbox(make_engine(f"sqlite:///{tmp_path / 'o.db'}"))


def events(outbox: Outbox) -> int:
    with outbox.db.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())


def store_event(conn: sa.Connection, event_id: str) -> None:
    conn.execute(sa.text("INSERT INTO events (id, type, source, occurred_at, recorded_at, payload) "
                         "VALUES (:id, 't', 'test', :at, :at, '{}')"),
                 {"id": event_id, "at": "2026-12-01 12:00:00.000000"})


def test_bookkeeping_commits_on_one_kept_connection(outbox: Outbox) -> None:
    with outbox.bookkeeping() as first:
        store_event(first, "e1")
    with outbox.bookkeeping() as second:
        store_event(second, "e2")
    assert second is first
    assert events(outbox) == 2


def test_a_failed_bookkeeping_rolls_back_and_the_next_starts_on_a_fresh_connection(outbox: Outbox) -> None:
    with pytest.raises(sa.exc.IntegrityError), outbox.bookkeeping() as failed:
        store_event(failed, "e1")
        store_event(failed, "e1")  # the same id twice: the whole transaction is undone
    with outbox.bookkeeping() as fresh:
        store_event(fresh, "e2")
    assert fresh is not failed and failed.closed
    assert events(outbox) == 1


def test_a_nested_bookkeeping_gets_its_own_connection(outbox: Outbox) -> None:
    with outbox.bookkeeping() as outer:
        store_event(outer, "e1")
        with outbox.bookkeeping() as inner:
            assert inner is not outer
    assert events(outbox) == 1


def test_close_gives_the_kept_connection_back(outbox: Outbox) -> None:
    with outbox.bookkeeping() as kept:
        store_event(kept, "e1")
    outbox.close()
    assert kept.closed
    with outbox.bookkeeping() as reopened:
        store_event(reopened, "e2")
    assert events(outbox) == 2
