"""The outbox: how queued steps become messages, and its SQLite bookkeeping connection (kept between
uses, never reused after a failure)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.runtime.outbox import MAX_BATCH, SPREAD, Outbox, messages
from store.db import make_engine


@pytest.fixture
def outbox(migrated_template: Path, tmp_path: Path) -> Outbox:
    shutil.copy(migrated_template, tmp_path / "o.db")
    return Outbox(make_engine(f"sqlite:///{tmp_path / 'o.db'}"))


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@dataclass
class Queued:
    id: str
    next_attempt_at: datetime | None = None


def test_a_burst_of_due_steps_is_spread_over_the_threads_in_batches_of_at_most_max_batch() -> None:
    burst = [Queued(f"s{index}") for index in range(500)]
    sent = messages(burst, NOW)
    assert [step_id for ids, _ in sent for step_id in ids] == [step.id for step in burst]
    assert {len(ids) for ids, _ in sent} == {MAX_BATCH} | {500 % MAX_BATCH} and {d for _, d in sent} == {0}
    few = messages([Queued(f"s{index}") for index in range(3 * SPREAD)], NOW)
    assert len(few) == SPREAD  # a small pass still reaches every thread


def test_a_delayed_step_travels_alone_with_its_delay() -> None:
    sent = messages([Queued("now"), Queued("later", NOW + timedelta(seconds=90)), Queued("due", NOW)], NOW)
    assert sent == [(["now"], 0), (["due"], 0), (["later"], 90_000)]  # two due steps: one per thread


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
