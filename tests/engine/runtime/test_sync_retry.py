"""``sync retry``: a failed sync's dead-lettered step is queued again with its original key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from engine.runtime.outbox import Transaction
from engine.runtime.sync_retry import retry_records
from store.accounting_sync import AuditContext, add_audit, ensure_record, mark_failed
from store.db import make_engine, session_scope
from store.errors import NotFound
from store.models.runs import DeadLetter, RuleRun, RuleStep


def failed_sync(session: Session, *, dead: bool) -> tuple[str, str]:
    run = RuleRun(rule_id="invoice-issued-sync-accounting", status="failed")
    session.add(run)
    session.flush()
    step = RuleStep(run_id=run.id, action="accounting.sync_invoice", idempotency_key="r:e:0",
                    status="dead" if dead else "queued", attempts=6)
    session.add(step)
    session.flush()
    if dead:
        session.add(DeadLetter(step_id=step.id, rule_id=run.rule_id, action=step.action, error="timeout",
                               attempts=6))
    record = ensure_record(session, "omie", "invoice", "inv-1", "r:e:0")
    mark_failed(session, record, "timeout")
    add_audit(session, AuditContext("omie", "invoice", "inv-1", rule_id=run.rule_id, step_id=step.id),
              record.id, operation="push_invoice", outcome="failed", error="timeout")
    session.flush()
    return record.id, step.id


@pytest.fixture
def engine(migrated_template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "despacho.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def test_a_dead_lettered_sync_is_queued_again_and_its_record_pending(engine) -> None:  # type: ignore
    with session_scope(engine) as s:
        record_id, step_id = failed_sync(s, dead=True)
    with session_scope(engine) as s:
        tx = Transaction(s)
        outcome = retry_records(tx, [record_id], "cli")
        assert outcome.requeued == {record_id: step_id} and outcome.skipped == {}
        assert [q.id for q in tx.queued] == [step_id]
    with session_scope(engine) as s:
        from store.models.accounting import AccountingSyncRecord

        assert s.get_one(AccountingSyncRecord, record_id).status == "pending"
        assert s.get_one(RuleStep, step_id).status == "queued"


def test_a_sync_the_engine_is_still_retrying_is_left_alone(engine) -> None:  # type: ignore
    with session_scope(engine) as s:
        record_id, _ = failed_sync(s, dead=False)
    with session_scope(engine) as s:
        outcome = retry_records(Transaction(s), [record_id], "cli")
    assert "still on it" in outcome.skipped[record_id]


def test_an_unknown_record_changes_nothing(engine) -> None:  # type: ignore
    with session_scope(engine) as s, pytest.raises(NotFound):
        retry_records(Transaction(s), ["nope"], "cli")
