"""Dead letters: steps that failed for good, kept until a person retries or discards them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.runtime.outbox import Transaction
from engine.runtime.steps import queue_step
from store.errors import NotFound
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus, check_run
from store.types import utcnow


@dataclass(frozen=True)
class DeadLetterView:
    letter: DeadLetter
    step: RuleStep
    run: RuleRun


def list_dead_letters(session: Session, *, include_resolved: bool = False, limit: int = 100
                      ) -> list[DeadLetter]:
    query = select(DeadLetter).where(col(DeadLetter.deleted_at).is_(None))
    if not include_resolved:
        query = query.where(col(DeadLetter.resolved_at).is_(None))
    return list(session.exec(query.order_by(col(DeadLetter.created_at).desc()).limit(limit)))


def show(session: Session, dead_letter_id: str) -> DeadLetterView:
    letter = _get(session, dead_letter_id)
    step = session.get_one(RuleStep, letter.step_id)
    return DeadLetterView(letter, step, session.get_one(RuleRun, step.run_id))


def retry(tx: Transaction, dead_letter_ids: Sequence[str], actor: str) -> list[str]:
    """Run each dead step again with its original event and earlier outputs; returns the step ids.

    The run is reopened: steps it skipped when it failed are pending again,
    so after a successful retry the rule carries on where it stopped. The
    steps are sent once ``tx`` commits.
    """
    session = tx.session
    now = utcnow()
    letters = [_get(session, i) for i in dead_letter_ids]
    queued = []
    for letter in letters:
        if letter.resolved_at is not None:
            continue
        step = session.get_one(RuleStep, letter.step_id)
        run = session.get_one(RuleRun, step.run_id)
        if run.status != RunStatus.RUNNING:
            run.status = check_run(run.status, RunStatus.RUNNING)
        run.finished_at = None
        session.execute(sa.update(RuleStep).where(col(RuleStep.run_id) == run.id,
                                                  col(RuleStep.status) == StepStatus.SKIPPED,
                                                  col(RuleStep.attempts) == 0)
                        .values(status=StepStatus.PENDING, finished_at=None))
        step.attempts, step.finished_at = 0, None
        queue_step(step, now)
        letter.resolved_at, letter.resolution, letter.resolved_by = now, "reprocessed", actor
        queued.append(step)
    tx.send_after_commit(queued)
    return [step.id for step in queued]


def discard(session: Session, dead_letter_ids: Sequence[str], actor: str) -> int:
    now = utcnow()
    count = 0
    for letter in (_get(session, i) for i in dead_letter_ids):
        if letter.resolved_at is None:
            letter.resolved_at, letter.resolution, letter.resolved_by = now, "discarded", actor
            count += 1
    return count


def _get(session: Session, dead_letter_id: str) -> DeadLetter:
    letter = session.get(DeadLetter, dead_letter_id)
    if letter is None or letter.deleted_at is not None:
        raise NotFound("dead_letter", dead_letter_id)
    return letter
