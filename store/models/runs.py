"""Rule runs, their steps, and the dead letters of steps that ran out of attempts."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.run_lifecycle import RunStatus, StepStatus
from store.types import new_id
from store.validation import check_choice, check_required

RUN_STATUSES = tuple(RunStatus)
STEP_STATUSES = tuple(StepStatus)
DEAD_LETTER_RESOLUTIONS = ("reprocessed", "discarded", "handled")


class RuleRun(Record, table=True):
    """One evaluation of one rule against one event (or one ``for_each`` row).

    ``skip_reason`` says why nothing ran (condition false, dedupe, throttle),
    ``held_until`` when quiet hours postponed it (a run held with no time is
    waiting for the rule's active run, ``mode: queued``). Indexes:
    ``(event_id, rule_id)`` (what did this event trigger); ``(rule_id,
    created_at)`` (a rule's history); ``(status, created_at)`` (dashboard:
    failed runs today); ``(rule_id, dedupe_key, created_at)`` and ``(rule_id,
    throttle_key, created_at)`` (dedupe and throttle windows); ``(rule_id,
    status)`` (``mode: single|queued``: is a run of this rule active?).
    """

    __tablename__ = "rule_runs"
    __table_args__ = (
        sa.Index(None, "event_id", "rule_id"),
        sa.Index(None, "rule_id", "created_at"),
        sa.Index(None, "status", "created_at"),
        sa.Index(None, "rule_id", "dedupe_key", "created_at"),
        sa.Index(None, "rule_id", "throttle_key", "created_at"),
        sa.Index(None, "rule_id", "status"),
    )
    entity: ClassVar[str] = "rule_run"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "rule_id": check_required,
        "status": partial(check_choice, choices=RUN_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    rule_id: str = Field(max_length=200)
    event_id: str | None = Field(default=None, foreign_key="events.id", max_length=200)
    status: str = Field(default=RunStatus.PLANNED, max_length=20)
    skip_reason: str | None = Field(default=None, max_length=500)
    dedupe_key: str | None = Field(default=None, max_length=500)
    throttle_key: str | None = Field(default=None, max_length=500)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False,
                                    description="the for_each row or trace kept for dashboards")
    held_until: datetime | None = timestamp()
    hold_reason: str | None = Field(default=None, max_length=300,
                                    description="why the run waits: quiet hours (whose zone), mode queued")
    ruleset_version: str | None = Field(default=None, max_length=80,
                                        description="git commit (else sha256:...) of its rule set")
    trace: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON,
                                         description="the condition trace: each condition and what it gave")
    created_at: datetime = timestamp(default_now=True)
    started_at: datetime | None = timestamp()
    finished_at: datetime | None = timestamp()


class RuleStep(Record, table=True):
    """One action of a run, as sent to a connector.

    ``idempotency_key`` (rule, event, action) is unique: a replanned run finds
    the step it already made. Indexes: ``(run_id, position)``; ``(status,
    queued_at)`` is the reaper's query (steps left ``queued`` too long);
    ``next_attempt_at`` finds retries that are due; ``(status, lease_until)``
    finds running steps whose worker stopped renewing its lease.
    """

    __tablename__ = "rule_steps"
    __table_args__ = (
        sa.Index(None, "run_id", "position"),
        sa.Index(None, "status", "queued_at"),
        sa.Index(None, "status", "lease_until"),
    )
    entity: ClassVar[str] = "rule_step"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "run_id": check_required,
        "action": check_required,
        "status": partial(check_choice, choices=STEP_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    run_id: str = Field(foreign_key="rule_runs.id", max_length=36)
    position: int = 0
    step_key: str | None = Field(default=None, max_length=200, description="the action's `id` in the rule")
    action: str = Field(max_length=100, description="connector.action")
    fallback_of: str | None = Field(default=None, foreign_key="rule_steps.id", max_length=36)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    output: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status: str = Field(default=StepStatus.PENDING, max_length=20)
    attempts: int = 0
    max_attempts: int = 5
    idempotency_key: str = Field(max_length=300, unique=True)
    last_error: str | None = Field(default=None, max_length=2000)
    error_code: str | None = Field(default=None, max_length=100)
    not_before: datetime | None = timestamp(description="a `delay:` holds the step until then")
    hold_reason: str | None = Field(default=None, max_length=300,
                                    description="why the step waits: a delay, delay_until, quiet hours")
    next_attempt_at: datetime | None = timestamp(index=True)
    created_at: datetime = timestamp(default_now=True)
    queued_at: datetime | None = timestamp()
    started_at: datetime | None = timestamp()
    lease_until: datetime | None = timestamp(description="a running step's worker renews this; "
                                                         "when it lapses the reaper takes the step back")
    finished_at: datetime | None = timestamp()


class DeadLetter(Record, table=True):
    """A step that failed for good, kept until someone reprocesses or discards it.

    Indexes: partial ``created_at WHERE resolved_at IS NULL`` is ``despacho
    dlq list``; ``(rule_id, created_at)`` groups failures by rule.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        sa.Index("ix_dead_letters_unresolved", "created_at",
                 postgresql_where=sa.text("resolved_at IS NULL"),
                 sqlite_where=sa.text("resolved_at IS NULL")),
        sa.Index(None, "rule_id", "created_at"),
    )
    entity: ClassVar[str] = "dead_letter"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "resolution": partial(check_choice, choices=DEAD_LETTER_RESOLUTIONS),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    step_id: str = Field(foreign_key="rule_steps.id", index=True, max_length=36)
    rule_id: str = Field(max_length=200)
    event_id: str | None = Field(default=None, foreign_key="events.id", max_length=200)
    action: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    error: str = Field(max_length=2000)
    error_code: str | None = Field(default=None, max_length=100)
    attempts: int = 0
    created_at: datetime = timestamp(default_now=True)
    resolved_at: datetime | None = timestamp()
    resolution: str | None = Field(default=None, max_length=20)
    resolved_by: str | None = Field(default=None, max_length=200)
    handled_by: str | None = Field(default=None, max_length=36,
                                   description="the fallback step that succeeded in its place")
    deleted_at: datetime | None = timestamp()
