"""The step runner's statements on both databases: claim with runs, and run-ending records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.language.events import Event
from engine.runtime.intake import accept_events
from store.db import session_scope
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus
from store.runs import claim_with_runs, finish_ending_steps, renew_leases, take_back_lapsed
from store.types import utcnow

LEASE = timedelta(seconds=5)


def queued_steps(engine: sa.Engine, count: int) -> list[str]:
    """``count`` events, each with a planned run of one queued step; the step ids."""
    ids = []
    with session_scope(engine) as session:
        accept_events(session, [Event(type="t.done", id=f"e{i}", data={"n": i}) for i in range(count)])
        for i in range(count):
            run = RuleRun(rule_id="r", event_id=f"e{i}")
            session.add(run)
            session.flush()
            step = RuleStep(run_id=run.id, position=0, step_key="a", action="log.write",
                            status=StepStatus.QUEUED, idempotency_key=f"r:e{i}:a", max_attempts=3)
            session.add(step)
            session.flush()
            ids.append(step.id)
    return ids


def rows(engine: sa.Engine, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.execute(sa.select(model)).scalars())


def test_a_claim_starts_the_runs_and_returns_each_step_with_its_run_and_event(engine: sa.Engine) -> None:
    ids = queued_steps(engine, 3)
    with engine.begin() as conn:
        claimed = claim_with_runs(conn, ids[:2], utcnow(), LEASE)
    assert sorted(row.id for row in claimed) == sorted(ids[:2])
    assert {(row.rule_id, row.type, row.attempts) for row in claimed} == {("r", "t.done", 1)}
    assert sorted(row.payload["n"] for row in claimed) == [0, 1]
    statuses = {run.event_id: run.status for run in rows(engine, RuleRun)}
    assert statuses == {"e0": RunStatus.RUNNING, "e1": RunStatus.RUNNING, "e2": RunStatus.PLANNED}


def test_a_step_is_claimed_once_however_often_it_is_sent(engine: sa.Engine) -> None:
    (step_id,) = queued_steps(engine, 1)
    with engine.begin() as conn:
        assert len(claim_with_runs(conn, [step_id], utcnow(), LEASE)) == 1
    with engine.begin() as conn:
        assert claim_with_runs(conn, [step_id], utcnow(), LEASE) == []


def test_run_ending_records_finish_steps_and_runs_and_say_which_were_still_ours(engine: sa.Engine) -> None:
    ids = queued_steps(engine, 2)
    with engine.begin() as conn:
        claimed = {row.id: row for row in [*claim_with_runs(conn, [ids[0]], utcnow(), LEASE * 10),
                                           *claim_with_runs(conn, [ids[1]], utcnow(), LEASE)]}
    with engine.begin() as conn:  # the first worker froze: its claim of ids[1] lapsed, another took it
        take_back_lapsed(Session(bind=conn), utcnow() + LEASE * 2)
        claim_with_runs(conn, [ids[1]], utcnow(), LEASE)
    done = [(step_id, claimed[step_id].attempts, StepStatus.SUCCEEDED, {"p": step_id}, {"out": 1})
            for step_id in ids]
    with engine.begin() as conn:
        ours = finish_ending_steps(conn, done, utcnow())
    assert ours == {ids[0]}
    steps = {step.id: step for step in rows(engine, RuleStep)}
    assert (steps[ids[0]].status, steps[ids[0]].params, steps[ids[0]].output) == (
        StepStatus.SUCCEEDED, {"p": ids[0]}, {"out": 1})
    assert (steps[ids[1]].status, steps[ids[1]].attempts) == (StepStatus.RUNNING, 2)  # the newer claim's
    runs = {run.id: run.status for run in rows(engine, RuleRun)}
    assert runs[steps[ids[0]].run_id] == RunStatus.SUCCEEDED
    assert runs[steps[ids[1]].run_id] == RunStatus.RUNNING


def test_two_reapers_at_once_resend_a_forgotten_step_once(engine: sa.Engine) -> None:
    import threading

    from store.runs import forgotten_queued

    (step_id,) = queued_steps(engine, 1)
    long_ago = utcnow() - timedelta(minutes=5)
    with session_scope(engine) as session:
        session.execute(sa.update(RuleStep).where(RuleStep.id == step_id).values(queued_at=long_ago))
    found: dict[str, list[str]] = {}

    def second_reaper() -> None:
        with session_scope(engine) as other:
            found["second"] = [row.id for row in forgotten_queued(other, utcnow(), timedelta(seconds=30))]

    with session_scope(engine) as first:
        found["first"] = [row.id for row in forgotten_queued(first, utcnow(), timedelta(seconds=30))]
        # the second reaper looks while the first has not committed yet (PostgreSQL: it waits for the
        # row; SQLite: for the database), then finds the step already marked as re-sent
        thread = threading.Thread(target=second_reaper)
        thread.start()
        thread.join(timeout=0.5)
    thread.join(timeout=30)
    assert found == {"first": [step_id], "second": []}


def lease_of(engine: sa.Engine, step_id: str) -> Any:
    with Session(engine) as session:
        return session.get(RuleStep, step_id).lease_until


def test_a_renewal_extends_only_the_steps_still_running_at_the_claimed_attempt(engine: sa.Engine) -> None:
    mine, stale, done = queued_steps(engine, 3)
    with engine.begin() as conn:
        claim_with_runs(conn, [mine, stale, done], utcnow(), LEASE)
        finish_ending_steps(conn, [(done, 1, StepStatus.SUCCEEDED, {}, {})], utcnow())
    later = utcnow() + LEASE * 10
    with Session(engine) as session:
        renewed = renew_leases(session, [(mine, 1), (stale, 7), (done, 1)], later)
        session.commit()
    assert renewed == 1
    assert lease_of(engine, mine) == later and lease_of(engine, stale) < later
    assert lease_of(engine, done) is None


def test_a_renewal_skips_a_row_another_transaction_holds_instead_of_waiting(pg_url: str) -> None:
    from store.migrate import upgrade

    upgrade(pg_url)
    engine = sa.create_engine(pg_url)
    try:
        held, free = queued_steps(engine, 2)
        with engine.begin() as conn:
            claim_with_runs(conn, [held, free], utcnow(), LEASE)
        later = utcnow() + LEASE * 10
        with engine.connect() as other:
            other.execute(sa.text("SELECT id FROM rule_steps WHERE id = :id FOR UPDATE"), {"id": held})
            with Session(engine) as session:  # would wait forever (or deadlock) without SKIP LOCKED
                session.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                assert renew_leases(session, [(held, 1), (free, 1)], later) == 1
                session.commit()
            other.rollback()
        assert lease_of(engine, free) == later and lease_of(engine, held) < later
    finally:
        engine.dispose()
