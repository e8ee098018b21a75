"""The step tree of a run, and how a run moves along it.

Every action of a rule, fallbacks included, becomes a step row when the run
is planned, so nothing but the database is needed to move on: when a step
succeeds its chain continues (a fallback chain that succeeds stands in for
the action that failed), when it dies its first fallback is queued, or the
chain fails and the failure climbs to the parent chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.ruleset import CompiledAction
from store.models.runs import RuleStep
from store.types import new_id

FINISHED_STEP_STATUSES = ("succeeded", "dead", "skipped")
_MAX_KEY = 300


def idempotency_key(rule_id: str, event_id: str, step_key: str) -> str:
    """One key per (rule, event, action); hashed when it would not fit the column."""
    key = f"{rule_id}:{event_id}:{step_key}"
    if len(key) <= _MAX_KEY:
        return key
    return f"{rule_id[:100]}:{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass
class NewStep:
    """A step row about to be inserted; ``id`` and ``next_attempt_at`` are what sending needs."""

    id: str
    row: dict[str, Any]

    @property
    def next_attempt_at(self) -> datetime | None:
        return self.row["next_attempt_at"]


def step_rows(run_id: str, rule_id: str, event_id: str, actions: Iterable[CompiledAction], now: datetime,
              parent_id: str | None = None) -> list[NewStep]:
    """Rows for ``actions`` and, recursively, their fallbacks; all ``pending``.

    Plain rows inserted with one executemany: building ORM objects for every
    step was most of the planner's time.
    """
    created = []
    for position, action in enumerate(actions):
        step_id = new_id()
        created.append(NewStep(step_id, {
            "id": step_id, "run_id": run_id, "position": position, "step_key": action.key,
            "action": action.uses, "fallback_of": parent_id, "params": {}, "output": None,
            "status": "pending", "attempts": 0, "max_attempts": action.retry.attempts,
            "idempotency_key": idempotency_key(rule_id, event_id, action.key),
            "last_error": None, "error_code": None, "not_before": None, "next_attempt_at": None,
            "created_at": now, "queued_at": None, "started_at": None, "finished_at": None,
        }))
        created.extend(step_rows(run_id, rule_id, event_id, action.fallback, now, step_id))
    return created


def queue_new_step(step: NewStep, now: datetime, not_before: datetime | None = None) -> None:
    step.row.update(status="queued", queued_at=now, next_attempt_at=not_before)


def insert_steps(session: Session, steps: list[NewStep]) -> None:
    """Insert the planned steps (their runs are already in: the foreign keys point at them)."""
    if steps:
        session.execute(sa.insert(RuleStep.__table__), [step.row for step in steps])


@dataclass(frozen=True)
class NextMove:
    """What happens to the run after a step finished."""

    queue: RuleStep | None = None  # the step to run next
    run_status: str | None = None  # "succeeded" / "failed" when the run is over


def after_success(session: Session, step: RuleStep) -> NextMove:
    sibling = _next_sibling(session, step)
    if sibling is not None:
        return NextMove(queue=sibling)
    if step.fallback_of is None:
        return NextMove(run_status="succeeded")
    # The fallback chain finished: it stands in for the failed action, whose chain continues.
    return after_success(session, _parent(session, step))


def after_death(session: Session, step: RuleStep) -> NextMove:
    first_fallback = session.exec(
        select(RuleStep).where(RuleStep.fallback_of == step.id).order_by(RuleStep.position)
    ).first()
    if first_fallback is not None:
        return NextMove(queue=first_fallback)
    # Fallbacks are a sequence, not alternatives: a dead step without one ends the run.
    return NextMove(run_status="failed")


def queue_step(step: RuleStep, now: datetime, not_before: datetime | None = None) -> None:
    step.status = "queued"
    step.queued_at = now
    step.next_attempt_at = not_before


def skip_leftovers(session: Session, run_id: str, now: datetime) -> None:
    """Steps a finished run never reached are skipped, not left pending forever."""
    for step in session.exec(select(RuleStep).where(RuleStep.run_id == run_id,
                                                    RuleStep.status == "pending")):
        step.status = "skipped"
        step.finished_at = now


def outputs_so_far(session: Session, run_id: str) -> dict[str, dict]:
    """``steps.<id>`` for the templates of later steps: outputs of succeeded steps."""
    rows = session.exec(select(RuleStep).where(RuleStep.run_id == run_id,
                                               RuleStep.status == "succeeded"))
    return {row.step_key: dict(row.output or {}) for row in rows if row.step_key}


def _next_sibling(session: Session, step: RuleStep) -> RuleStep | None:
    return session.exec(
        select(RuleStep).where(RuleStep.run_id == step.run_id,
                               RuleStep.fallback_of == step.fallback_of if step.fallback_of
                               else RuleStep.fallback_of.is_(None),
                               RuleStep.position == step.position + 1)
    ).first()


def _parent(session: Session, step: RuleStep) -> RuleStep:
    parent = session.get(RuleStep, step.fallback_of)
    if parent is None:
        raise LookupError(f"step {step.id} names a missing parent {step.fallback_of}")
    return parent
