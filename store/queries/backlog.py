"""How much work waits: events the relay has not planned, steps queued or running, open dead letters.

Each count is served by an index (``dispatched_at IS NULL`` and ``resolved_at IS NULL`` are
partial indexes; steps by ``(status, ...)``), so a scrape every few seconds stays cheap on a
table of millions of finished steps: only unfinished work is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from store.models import DeadLetter, Event, RuleStep
from store.run_lifecycle import StepStatus

UNFINISHED = (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING)


@dataclass(frozen=True)
class Backlog:
    undispatched_events: int
    oldest_undispatched_seconds: float
    open_dead_letters: int
    steps: dict[str, int] = field(default_factory=dict)  # unfinished statuses only


def backlog_counts(db: sa.Engine, now: datetime | None = None) -> Backlog:
    now = now or datetime.now(UTC)
    with Session(db) as session:
        waiting = col(Event.dispatched_at).is_(None)
        events, oldest = session.exec(select(func.count(), func.min(Event.occurred_at)).where(waiting)).one()
        dead = session.exec(select(func.count()).select_from(DeadLetter)
                            .where(col(DeadLetter.resolved_at).is_(None))).one()
        rows = session.exec(select(RuleStep.status, func.count())
                            .where(col(RuleStep.status).in_([str(s) for s in UNFINISHED]))
                            .group_by(RuleStep.status)).all()
    steps = {str(status): 0 for status in UNFINISHED} | {str(status): int(count) for status, count in rows}
    age = 0.0
    if oldest is not None:
        age = max(0.0, (now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))).total_seconds())
    return Backlog(int(events), age, int(dead), steps)
