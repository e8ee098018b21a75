"""Group commit of step outcomes: each thread gets its own answer, one bad record fails only itself."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.intake import accept_events
from engine.runtime.outbox import Outbox
from engine.runtime.recorder import Recorder, RecordGroup
from store.db import make_engine
from store.models.events import Event as EventRow


@pytest.fixture
def outbox(migrated_template: Path, tmp_path: Path) -> Outbox:
    shutil.copy(migrated_template, tmp_path / "r.db")
    return Outbox(make_engine(f"sqlite:///{tmp_path / 'r.db'}"))


def storing(outbox: Outbox) -> RecordGroup:
    """Records each outcome as an event, the group in one transaction."""
    def store_outcomes(group: list[tuple[str, str]]) -> list[str]:
        with outbox.transaction() as tx:
            for claim, outcome in group:
                if outcome == "poison":
                    raise ValueError(f"cannot record {claim}")
                accept_events(tx.session, [Event(type="recorded", id=claim)])
        return [outcome for _, outcome in group]
    return store_outcomes


def test_concurrent_records_are_all_committed_and_a_bad_one_fails_alone(outbox: Outbox) -> None:
    recorder = Recorder(storing(outbox))
    answers: dict[str, object] = {}
    start = threading.Barrier(12)

    def worker(index: int) -> None:
        claim, outcome = f"s{index}", "poison" if index == 5 else "succeeded"
        start.wait()
        try:
            answers[claim] = recorder.record(claim, outcome)
        except ValueError as exc:
            answers[claim] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert isinstance(answers.pop("s5"), ValueError)
    assert answers == {f"s{i}": "succeeded" for i in range(12) if i != 5}
    with Session(outbox.db) as session:
        stored = {row.id for row in session.exec(select(EventRow))}
    assert stored == {f"s{i}" for i in range(12) if i != 5}


def test_an_outcome_that_cannot_be_committed_raises_in_its_own_thread(outbox: Outbox) -> None:
    recorder = Recorder(storing(outbox))
    outbox.db.dispose()
    with outbox.db.begin() as connection:  # the table is gone: the commit itself fails
        connection.execute(sa.text("DROP TABLE IF EXISTS rule_steps"))
        connection.execute(sa.text("ALTER TABLE events RENAME TO events_gone"))
    for claim in ("s1", "s2"):  # the failed turn ended: the next record gets its own answer, no hang
        with pytest.raises(sa.exc.OperationalError):
            recorder.record(claim, "succeeded")


def test_submit_returns_before_the_commit_and_wait_returns_once_it_is_made() -> None:
    release = threading.Event()
    committed: list[str] = []

    def slow_group(group: list[tuple[str, str]]) -> list[str]:
        release.wait(10)
        committed.extend(claim for claim, _ in group)
        return [outcome for _, outcome in group]

    recorder = Recorder(slow_group)
    pending = recorder.submit("s1", "succeeded")  # the worker goes on to its next call meanwhile
    assert committed == [] and not pending.finished
    release.set()
    assert pending.wait() == "succeeded" and committed == ["s1"]
    recorder.close()


def test_close_commits_what_arrived_and_later_outcomes_are_recorded_by_their_caller(outbox: Outbox) -> None:
    recorder = Recorder(storing(outbox))
    pending = [recorder.submit(f"s{index}", "succeeded") for index in range(5)]
    recorder.close()
    assert all(item.finished for item in pending)
    assert recorder.record("late", "succeeded") == "succeeded"
    with Session(outbox.db) as session:
        stored = {row.id for row in session.exec(select(EventRow))}
    assert stored == {"s0", "s1", "s2", "s3", "s4", "late"}
