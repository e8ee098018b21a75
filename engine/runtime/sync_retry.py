"""``despacho sync retry``: run a failed accounting sync again, through the engine.

The honest simplest path: a sync made by a rule step that failed for good left a dead letter;
retrying the record retries that dead letter (``deadletters.retry``), so the step runs again with
its original event, params and idempotency key — the system receives the same integration code
and finds anything the failed attempt made. A step the engine is still retrying is left alone;
a record no rule step ever touched (nothing to re-run) is reported, not invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from engine.runtime import deadletters
from engine.runtime.outbox import Transaction
from store.accounting_sync import get_record, last_step_of
from store.models.runs import DeadLetter, RuleStep


@dataclass
class RetryOutcome:
    requeued: dict[str, str] = field(default_factory=dict)  # record id -> step id
    skipped: dict[str, str] = field(default_factory=dict)  # record id -> why


def retry_records(tx: Transaction, record_ids: Sequence[str], actor: str) -> RetryOutcome:
    """Re-queue the step behind each record; an unknown id raises ``NotFound`` before anything changes."""
    session = tx.session
    records = [get_record(session, record_id) for record_id in record_ids]
    outcome = RetryOutcome()
    for record in records:
        why = _why_not(session, record.id, record.status)
        if why:
            outcome.skipped[record.id] = why
            continue
        step_id = last_step_of(session, record.id)
        letter = _open_letter(session, step_id)
        assert letter is not None and step_id is not None
        deadletters.retry(tx, [letter.id], actor)
        record.status = "pending"
        outcome.requeued[record.id] = step_id
    return outcome


def _why_not(session: Session, record_id: str, status: str) -> str | None:
    if status == "synced":
        return "already synced"
    step_id = last_step_of(session, record_id)
    if step_id is None:
        return "no rule step made this sync: nothing to re-run (run the rule's event again)"
    if _open_letter(session, step_id) is None:
        step = session.get(RuleStep, step_id)
        state = step.status if step is not None else "gone"
        return f"its step is {state}, not dead-lettered: the engine is still on it"
    return None


def _open_letter(session: Session, step_id: str | None) -> DeadLetter | None:
    if step_id is None:
        return None
    return session.exec(select(DeadLetter).where(DeadLetter.step_id == step_id,
                                                 col(DeadLetter.resolved_at).is_(None))).first()
