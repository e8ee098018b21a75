"""Accepted rule sets: the newest one, and recording a new one while keeping only the last few."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.models.rulesets import AcceptedRuleSet

KEEP = 10  # enough to look back over a bad week of deploys; each row holds a whole rule set


def newest_accepted(session: Session) -> AcceptedRuleSet | None:
    query = select(AcceptedRuleSet).order_by(col(AcceptedRuleSet.accepted_at).desc(),
                                             col(AcceptedRuleSet.id).desc()).limit(1)
    return session.exec(query).first()


def record_accepted(session: Session, *, digest: str, version: str, rules: int, files: dict[str, Any],
                    keep: int = KEEP) -> AcceptedRuleSet | None:
    """Store the set unless the newest stored one has the same digest; the new row, or None."""
    newest = newest_accepted(session)
    if newest is not None and newest.digest == digest:
        return None
    row = AcceptedRuleSet(digest=digest, version=version, rules=rules, files=files)
    session.add(row)
    session.flush()
    kept = select(AcceptedRuleSet.id).order_by(col(AcceptedRuleSet.accepted_at).desc(),
                                               col(AcceptedRuleSet.id).desc()).limit(keep)
    session.execute(sa.delete(AcceptedRuleSet).where(col(AcceptedRuleSet.id).not_in(kept.scalar_subquery())))
    return row
