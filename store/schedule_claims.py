"""Claiming a schedule's fire once, and reading where a rule's catch-up starts.

Only the scheduler writes ``schedule_claims``; the event log, which API
clients and webhooks write too, plays no part in deciding whether a fire
happened (see ``store.models.schedules``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from store.models.schedules import ScheduleClaim
from store.types import utcnow
from store.validation import check_aware, check_required

_INSERT_UNLESS_CLAIMED = {
    name: insert(ScheduleClaim.__table__).on_conflict_do_nothing(index_elements=["rule_id", "fire_at"])
    .returning(ScheduleClaim.__table__.c.rule_id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def claim_fire(session: Session, rule_id: str, fire_at: datetime) -> bool:
    """Take the fire ``(rule_id, fire_at)`` in the caller's transaction; ``False`` when it was taken.

    ``INSERT ... ON CONFLICT DO NOTHING``: two schedulers racing (a leader
    handover) both finish, and exactly one of them gets ``True``. A taken fire
    is the normal answer of the second one, not an error.
    """
    check_required("schedule_claim.rule_id", rule_id)
    check_aware("schedule_claim.fire_at", fire_at)
    dialect = session.get_bind().dialect.name
    row = {"rule_id": rule_id, "fire_at": fire_at, "claimed_at": utcnow()}
    return session.execute(_INSERT_UNLESS_CLAIMED[dialect], [row]).first() is not None


def last_fire(connection: sa.Connection | Session, rule_id: str) -> datetime | None:
    """The latest claimed fire of a rule; ``None`` when it never fired (a new rule)."""
    statement = (sa.select(sa.func.max(col(ScheduleClaim.fire_at)))
                 .where(col(ScheduleClaim.rule_id) == rule_id))
    # max() keeps the column's type, so the value comes back tz-aware on SQLite too
    return connection.execute(statement).scalar_one_or_none()
