"""Each running daemon's rules, as it reports them: the set in force and the one it was offered.

The rows are written by the daemons themselves (``engine.runtime.rollout``) on every tick of
their rule watcher, read by the same to decide whether a new set may go into force, and shown
by ``GET /v1/rules/daemons`` and ``despacho rules daemons``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.models import DaemonRules
from store.types import utcnow

_T = DaemonRules.__table__
PROBLEMS_KEPT = 20


@dataclass(frozen=True)
class Candidate:
    """The newest set a daemon's files offered: loaded there or not (with why)."""

    digest: str
    version: str
    ok: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Presence:
    id: str
    host: str
    pid: int
    parts: str
    active_digest: str
    active_version: str
    candidate: Candidate | None


def report(session: Session, presence: Presence, *, active_changed: bool, candidate_changed: bool,
           at: datetime | None = None) -> None:
    """Write this daemon's row (insert or update); ``seen_at`` is now."""
    now = at or utcnow()
    candidate = presence.candidate
    values = {
        "host": presence.host[:200], "pid": presence.pid, "parts": presence.parts[:100], "seen_at": now,
        "active_digest": presence.active_digest, "active_version": presence.active_version[:80],
        "candidate_digest": candidate.digest if candidate else None,
        "candidate_version": candidate.version[:80] if candidate else None,
        "candidate_ok": candidate.ok if candidate else None,
        "candidate_problems": [p[:500] for p in candidate.problems[:PROBLEMS_KEPT]] if candidate else None,
    }
    if active_changed:
        values["active_since"] = now
    if candidate_changed:
        values["candidate_at"] = now if candidate else None
    updated = session.execute(sa.update(_T).where(_T.c.id == presence.id).values(**values))
    if not updated.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        values.update(active_since=now, candidate_at=now if candidate else None)
        session.execute(sa.insert(_T).values(id=presence.id, started_at=now, **values))


def live(session: Session, within: timedelta, at: datetime | None = None) -> list[DaemonRules]:
    """The daemons seen in the last ``within``, oldest first."""
    since = (at or utcnow()) - within
    statement = (select(DaemonRules).where(col(DaemonRules.seen_at) >= since)
                 .order_by(col(DaemonRules.started_at), col(DaemonRules.id)))
    return list(session.exec(statement))


def everyone(session: Session) -> list[DaemonRules]:
    """Every row, live or not, newest seen first (what ``despacho rules daemons`` lists)."""
    return list(session.exec(select(DaemonRules).order_by(col(DaemonRules.seen_at).desc(),
                                                          col(DaemonRules.id))))


def leave(session: Session, daemon_id: str) -> None:
    """A daemon stopping cleanly: it no longer counts in a roll-out."""
    session.execute(sa.delete(_T).where(_T.c.id == daemon_id))


def forget_gone(session: Session, older_than: timedelta, at: datetime | None = None) -> int:
    """Rows of daemons not seen for ``older_than`` (killed, not stopped): removed."""
    result = session.execute(sa.delete(_T).where(_T.c.seen_at < (at or utcnow()) - older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
