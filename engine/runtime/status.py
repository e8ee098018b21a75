"""Counters per connector, read from the step rows (the truth, shared by every process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from engine.runtime.rollout import DaemonView, daemon_views
from engine.runtime.rulehealth import RulesHealth
from store.models.events import Event
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus


@dataclass
class ConnectorCounters:
    completed: int = 0
    failed: int = 0  # failed attempts, retried or not
    retried: int = 0  # attempts after the first
    dead: int = 0
    queued: int = 0
    running: int = 0
    held: int = 0  # queued steps of held runs (quiet hours, mode queued): not counted as queued


@dataclass
class Status:
    connectors: dict[str, ConnectorCounters] = field(default_factory=dict)
    undispatched_events: int = 0
    open_dead_letters: int = 0
    rules: RulesHealth | None = None  # filled by the caller that can read the rule files
    held_runs: int = 0  # waiting on quiet hours or their rule's active run: not queued work
    held_until: datetime | None = None  # the earliest time a held run is due
    daemons: list[DaemonView] = field(default_factory=list)  # each daemon's rules in force


def read_status(session: Session) -> Status:
    status = Status()
    held = (col(RuleRun.status) == RunStatus.HELD).label("held")
    rows = session.execute(
        sa.select(col(RuleStep.action), col(RuleStep.status), held, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(RuleStep.attempts), 0))
        .join(RuleRun, col(RuleRun.id) == RuleStep.run_id)
        .group_by(RuleStep.action, RuleStep.status, held)
    )
    for action, step_status, run_held, count, attempts in rows:
        counters = status.connectors.setdefault(action.split(".", 1)[0], ConnectorCounters())
        extra = max(0, int(attempts) - count)  # every attempt after a step's first was a retry
        counters.retried += extra
        if step_status == StepStatus.QUEUED and run_held:
            counters.held += count
        elif step_status == StepStatus.SUCCEEDED:
            counters.completed += count
            counters.failed += extra
        elif step_status == StepStatus.DEAD:
            counters.dead += count
            counters.failed += int(attempts)
        elif step_status in (StepStatus.QUEUED, StepStatus.RUNNING):
            setattr(counters, step_status, getattr(counters, step_status) + count)
            counters.failed += extra
    status.undispatched_events = session.execute(
        sa.select(sa.func.count()).select_from(Event).where(col(Event.dispatched_at).is_(None))).scalar_one()
    status.open_dead_letters = session.execute(
        sa.select(sa.func.count()).select_from(DeadLetter).where(col(DeadLetter.resolved_at).is_(None))
    ).scalar_one()
    status.held_runs, status.held_until = session.execute(
        sa.select(sa.func.count(), sa.func.min(RuleRun.held_until))
        .where(col(RuleRun.status) == RunStatus.HELD)).one()
    status.daemons = daemon_views(session)
    return status
